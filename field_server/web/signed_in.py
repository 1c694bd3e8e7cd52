"""Who is signed in to the review UI: the signed session cookie carries only the random token
of a session the server keeps (besides the language and the CSRF token); every page asks the
database afresh whether that session is open and whose it is."""

from __future__ import annotations

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


SESSION_KEY = "session"


def start(sign_in: auth.SignIn) -> None:
    """A fresh cookie at each sign-in, so a cookie planted before it is worth nothing."""
    forget()
    session.permanent = True
    session[SESSION_KEY] = sign_in.session_token
    csrf.renew()


def forget() -> None:
    """This browser's cookie no longer names a session; its language stays."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def session_token() -> str | None:
    token = session.get(SESSION_KEY)
    return token if isinstance(token, str) and token else None


def current_actor() -> Actor | None:
    if "actor" in g:
        return cast(Actor | None, g.actor)
    actor = None
    token = session_token()
    if token is not None:
        try:
            actor = auth.actor_for_session(runtime().uow, token, runtime().config.session_lifetimes)
        except Unauthenticated:
            forget()
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
