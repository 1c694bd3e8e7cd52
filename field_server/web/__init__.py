"""The review UI at ``/``: server-rendered pages over the same services as the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.wrappers import Response

from field_core.geo.geotag import KAZAKHSTAN_TIME
from field_server.config import ServerConfig
from field_server.web import (
    csrf,
    duplicates,
    exports,
    i18n,
    pages,
    people,
    phones,
    photos,
    register,
    review,
    signed_in,
)
from field_server.web.blueprint import blueprint
from field_server.web.problem_words import problem_words

__all__ = [
    "duplicates",
    "exports",
    "init_app",
    "pages",
    "people",
    "phones",
    "photos",
    "register",
    "review",
]


def init_app(app: Flask, config: ServerConfig) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="qazba_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        # the cookie lasts as long as a session may; the server ends the session itself
        PERMANENT_SESSION_LIFETIME=config.session_lifetimes.absolute,
    )
    app.register_blueprint(blueprint)
    app.jinja_env.globals.update(
        _=i18n.translate,
        material_label=i18n.material,
        current_language=i18n.current_language,
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        csrf_token=csrf.token,
        current_actor=signed_in.current_actor,
        may_read_register=register.may_read_register,
        phones_waiting=phones.waiting,
        problem_text=lambda message: problem_words(message, i18n.translate),
    )
    app.jinja_env.filters["when"] = _when
    policy = content_security_policy(config.tile_url)

    @app.after_request
    def _secure_headers(response: Response) -> Response:
        if request.blueprint == "web" and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = policy
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Referrer-Policy"] = "same-origin"
            if response.mimetype == "text/html":
                # pages hold a reviewer's data: never kept by a shared computer's cache
                response.headers["Cache-Control"] = "no-store"
        return response


def content_security_policy(tile_url: str | None) -> str:
    """Scripts and styles from this server only (no inline script); images also from the
    base-map tile server when one is configured."""
    images = ["'self'", "data:"]
    if tile_url:
        parts = urlsplit(tile_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            # {s}.tile.example.org: any subdomain of the tile host
            host = parts.netloc.replace("{s}", "*")
            images.append(f"{parts.scheme}://{host}")
    directives: dict[str, Any] = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(images),
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _when(value: datetime) -> str:
    """A moment as the museum reads it: Kazakhstan's time (UTC+5 all year), to the minute."""
    if value.tzinfo is None:  # the database's times are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(KAZAKHSTAN_TIME).strftime("%Y-%m-%d %H:%M (UTC+5)")
