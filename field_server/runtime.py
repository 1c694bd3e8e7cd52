"""What one running application holds: its configuration, its database access, and the photo
services bound to the photo store."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.config import ServerConfig
from field_server.services.photos import Photos
from field_server.services.uploads import Uploads


@dataclass(frozen=True)
class Runtime:
    config: ServerConfig
    uow: UnitOfWorkFactory
    photos: Photos
    uploads: Uploads


def runtime() -> Runtime:
    return current_app.extensions["qazba"]
