"""What one running application holds: its configuration and its database access."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.config import ServerConfig


@dataclass(frozen=True)
class Runtime:
    config: ServerConfig
    uow: UnitOfWorkFactory


def runtime() -> Runtime:
    return current_app.extensions["qazba"]
