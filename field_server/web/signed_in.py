"""Who is signed in to the review UI: the signed session cookie names a user, the stamp of
their password and a per-sign-in nonce; every page asks the database afresh who they are."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from field_server.domain.access import Actor
from field_server.runtime import runtime
from field_server.services import auth
from field_server.services.errors import Unauthenticated
from field_server.web import csrf

View = TypeVar("View", bound=Callable[..., Any])


def start(sign_in: auth.SignIn) -> None:
    """A fresh session at each sign-in, so a session planted before it is worth nothing."""
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    session["user"] = sign_in.actor.user_id
    session["stamp"] = sign_in.stamp
    session["nonce"] = secrets.token_urlsafe(16)
    if lang:
        session["lang"] = lang
    csrf.renew()


def end() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def current_actor() -> Actor | None:
    if "actor" in g:
        return cast(Actor | None, g.actor)
    actor = None
    user_id, stamp = session.get("user"), session.get("stamp")
    if isinstance(user_id, int) and isinstance(stamp, str) and session.get("nonce"):
        try:
            actor = auth.actor_for_session(runtime().uow, user_id, stamp)
        except Unauthenticated:
            end()
    g.actor = actor
    return actor


def signed_in(view: View) -> View:
    """The view runs with the signed-in person as ``actor``; others go to the sign-in page."""

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        actor = current_actor()
        if actor is None:
            # after signing in, come back to the page asked for; a form's target is no page
            back_to = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("web.login", next=back_to))
        return view(actor, *args, **kwargs)

    return cast(View, run)


def local_target(target: str | None, default: str) -> str:
    """Only a path on this server: never send a person on to another site after sign-in."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def back(default: str, code: int = 302) -> Response:
    """To the form's ``next`` page on this server, else to ``default``; a form that changed
    something answers 303 so the browser does not post it again."""
    return redirect(local_target(request.form.get("next"), default), code)
