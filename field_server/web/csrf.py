"""Cross-site request forgery: every form carries the session's secret token, and every POST
that does not is refused before it changes anything."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

FIELD = "csrf_token"


def token() -> str:
    """The session's token, made on first use; a new one at every sign-in."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def renew() -> None:
    session["csrf"] = secrets.token_urlsafe(32)


def check() -> None:
    """Refuse (400) a state-changing request whose form token is missing or wrong."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf")
    sent = request.form.get(FIELD, "")
    if not expected or not hmac.compare_digest(str(expected).encode(), sent.encode()):
        abort(400, description="csrf")
