"""Errors services raise; the API turns each into a problem document with a stable code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ServiceError(Exception):
    detail: str
    code: str = "error"
    status: int = 400
    errors: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.detail


class InvalidInput(ServiceError):
    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, "invalid_input", 422, errors or [])


class NotFound(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "not_found", 404)


class Forbidden(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "forbidden", 403)


class Unauthenticated(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "unauthenticated", 401)


class AlreadyExists(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, "already_exists", 409)


class NotAllowed(ServiceError):
    """The request is well formed but the thing's state forbids it (a rejected find to the
    register, an accessioned find to rejection, a stale form)."""

    def __init__(self, detail: str, code: str = "not_allowed") -> None:
        super().__init__(detail, code, 409)
