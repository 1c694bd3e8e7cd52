"""The application factory: wires configuration, the database and the blueprints."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from field_server import web
from field_server.adapters.database import make_engine
from field_server.adapters.photo_store import FilesystemPhotoStore
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.adapters.upload_staging import UploadStaging
from field_server.api import (
    access,
    collect,
    expeditions,
    exports,
    openapi,
    openrosa,
    photos,
    register,
    review,
    sync,
    uploads,
)
from field_server.api.problems import register_problem_handlers
from field_server.config import ServerConfig
from field_server.public_address import addressed
from field_server.runtime import Runtime
from field_server.services.collect import Collect
from field_server.services.photos import Photos
from field_server.services.uploads import Uploads


class _UnicodeJSON(DefaultJSONProvider):
    """Kazakh and Russian text leaves the server as itself, not as \\u escapes."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return json.dumps(obj, ensure_ascii=False, default=self.default, **kwargs)


class _RowNumber(IntegerConverter):
    """An ``<int:…>`` in a route names a row: a number larger than the database's INTEGER
    (PostgreSQL's 2**31 - 1) can name none, so the route does not match and the answer is a
    404, rather than an overflow inside the driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: ServerConfig | None = None) -> Flask:
    config = config or ServerConfig.from_env()
    app = Flask(__name__)
    app.url_map.converters["int"] = _RowNumber
    app.json = _UnicodeJSON(app)
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=config.max_json_bytes)
    if config.public_url:
        # the session cookie's path, and links made outside a request, under the public prefix
        public = urlsplit(config.public_url)
        app.config.update(APPLICATION_ROOT=public.path or "/", PREFERRED_URL_SCHEME=public.scheme)
    engine = make_engine(config.database_url)
    uow = UnitOfWorkFactory(engine)
    store = FilesystemPhotoStore(config.photos_dir)
    staging = UploadStaging(config.uploads_dir)
    app.extensions["qazba"] = Runtime(
        config=config,
        uow=uow,
        photos=Photos(uow, store),
        uploads=Uploads(uow, staging, store, config.max_upload_bytes),
    )
    # the phones' server (DESIGN §9); attachments are staged beside the photo store, so a
    # finished one is renamed into it
    app.extensions["qazba_collect"] = Collect(
        uow,
        store,
        config.data_dir / "collect-attachments",
        config.max_submission_bytes,
        config.storage_limits,
    )
    for module in (
        access,
        expeditions,
        exports,
        sync,
        photos,
        uploads,
        review,
        register,
        collect,
        openrosa,
        openapi,
    ):
        app.register_blueprint(module.blueprint)
    register_problem_handlers(app)
    web.init_app(app, config)
    if config.public_url and config.public_url.startswith("https://"):
        # served over TLS: browsers are told to use nothing else, for a year (HSTS)
        @app.after_request
        def _tls_only(response: Response) -> Response:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            return response

    app.wsgi_app = uploads.MethodOverride(app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = addressed(  # type: ignore[method-assign]
        app.wsgi_app, config.public_url, config.trusted_proxies
    )
    return app
