"""The address the server answers as: its public URL behind a reverse proxy, so that every
link it writes (upload locations, photo links in exports, redirects, the phones' keys) names
the address people and phones reach, not the loopback port the proxy talks to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class PublicAddress:
    """Rewrites each request's scheme, host and script root to those of ``public_url``.

    A proxy that serves the app under a path prefix (``https://museum.kz/qazba``) may pass the
    path on with or without the prefix; either way the app sees its routes below the prefix.
    """

    def __init__(self, app: WSGIApplication, public_url: str) -> None:
        parts = urlsplit(public_url)
        self.app = app
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.server_name = parts.hostname or ""
        self.server_port = str(parts.port or (443 if parts.scheme == "https" else 80))
        self.prefix = parts.path.rstrip("/")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        environ["SERVER_NAME"] = self.server_name
        environ["SERVER_PORT"] = self.server_port
        if self.prefix:
            path = environ.get("PATH_INFO", "")
            if path == self.prefix or path.startswith(self.prefix + "/"):
                environ["PATH_INFO"] = path[len(self.prefix) :]
            environ["SCRIPT_NAME"] = self.prefix
        return self.app(environ, start_response)


def addressed(app: Any, public_url: str | None, trusted_proxies: int) -> Any:
    """The WSGI app as it should face the network: the forwarded headers of ``trusted_proxies``
    proxies believed (the client's address for logs and throttling, and, without a public
    URL, the scheme, host and prefix), and the public URL over any of them."""
    if public_url:
        app = PublicAddress(app, public_url)
    if trusted_proxies:
        hops = trusted_proxies
        app = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
    return app
