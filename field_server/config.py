"""Server configuration, read from the environment (DESIGN §8)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from field_server.adapters.database import normalise_database_url
from field_server.domain.quotas import StorageLimits
from field_server.domain.review_sessions import (
    DEFAULT_IDLE_MINUTES,
    DEFAULT_SESSION_HOURS,
    Lifetimes,
)

DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024
DEFAULT_TOKEN_DAYS = 180  # a season in the field without network must not log the team out
DEFAULT_SCRYPT_COST = 2**17  # 128 MiB per hash with r=8 (services/passwords.py)
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3  # Tus-Max-Size: a RAW file or a long video still fits
# a phone's submission in one request: the form and the photos Collect sends with it (it
# splits larger ones over several requests, told by X-OpenRosa-Accept-Content-Length)
DEFAULT_MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
# an upload no record has named for a week is not a photo of the season (field-server cleanup)
DEFAULT_UNREFERENCED_DAYS = 7


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    database_url: str
    secret_key: str
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    token_days: int = DEFAULT_TOKEN_DAYS
    scrypt_cost: int = DEFAULT_SCRYPT_COST
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_submission_bytes: int = DEFAULT_MAX_SUBMISSION_BYTES
    # a review UI session ends after this long unused, and this long after its sign-in anyway
    session_idle_minutes: float = DEFAULT_IDLE_MINUTES
    session_hours: float = DEFAULT_SESSION_HOURS
    # the review UI: a base-map tile URL template (none: a plain background), and whether its
    # session cookie is sent over HTTPS only
    tile_url: str | None = None
    secure_cookies: bool = False
    # the address users and phones reach (scheme, host and any path prefix); None: links
    # follow the address each request came to
    public_url: str | None = None
    # how many reverse proxies in front of the server set X-Forwarded-For/-Proto/-Host/-Prefix;
    # 0 trusts none of those headers, which anyone could send
    trusted_proxies: int = 0
    storage_limits: StorageLimits = field(default_factory=StorageLimits)
    unreferenced_days: float = DEFAULT_UNREFERENCED_DAYS
    extra: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        env = os.environ if env is None else env
        data_dir = Path(env.get("FIELD_SERVER_DATA_DIR", "./var")).resolve()
        url = env.get("FIELD_SERVER_DATABASE_URL") or sqlite_url(data_dir / "qazba.sqlite3")
        secret = env.get("FIELD_SERVER_SECRET_KEY") or _stored_secret(data_dir)
        public_url = public_address(env.get("FIELD_SERVER_PUBLIC_URL") or None)
        secure_cookies = _flag(env, "FIELD_SERVER_SECURE_COOKIES")
        if secure_cookies is None:
            # a museum served over HTTPS must never let its session cookie travel in clear
            secure_cookies = public_url is not None and public_url.startswith("https://")
        return cls(
            data_dir=data_dir,
            database_url=normalise_database_url(url),
            secret_key=secret,
            max_json_bytes=int(env.get("FIELD_SERVER_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES)),
            session_idle_minutes=_length(
                env, "FIELD_SERVER_SESSION_IDLE_MINUTES", DEFAULT_IDLE_MINUTES
            ),
            session_hours=_length(env, "FIELD_SERVER_SESSION_HOURS", DEFAULT_SESSION_HOURS),
            token_days=int(env.get("FIELD_SERVER_TOKEN_DAYS", DEFAULT_TOKEN_DAYS)),
            scrypt_cost=int(env.get("FIELD_SERVER_SCRYPT_COST", DEFAULT_SCRYPT_COST)),
            max_upload_bytes=int(
                env.get("FIELD_SERVER_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
            ),
            max_submission_bytes=int(
                env.get("FIELD_SERVER_MAX_SUBMISSION_BYTES", DEFAULT_MAX_SUBMISSION_BYTES)
            ),
            tile_url=env.get("FIELD_SERVER_TILE_URL") or None,
            secure_cookies=secure_cookies,
            public_url=public_url,
            trusted_proxies=_count(env, "FIELD_SERVER_TRUSTED_PROXIES"),
            storage_limits=_storage_limits(env),
            unreferenced_days=_days(
                env, "FIELD_SERVER_UNREFERENCED_DAYS", DEFAULT_UNREFERENCED_DAYS
            ),
        )

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def uploads_dir(self) -> Path:
        """Unfinished uploads; on the same volume as the photos, so a finished one is renamed."""
        return self.data_dir / "uploads"

    @property
    def session_lifetimes(self) -> Lifetimes:
        return Lifetimes(
            timedelta(minutes=self.session_idle_minutes), timedelta(hours=self.session_hours)
        )


def public_address(url: str | None) -> str | None:
    """The public URL as links are built from it: scheme and host, a path prefix without its
    trailing slash; ValueError, in words, for anything a browser or phone could not reach."""
    if url is None:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"FIELD_SERVER_PUBLIC_URL must be an http:// or https:// address, not {url!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            "FIELD_SERVER_PUBLIC_URL takes a scheme, a host and a path only, "
            f"without a query, fragment or password: {url!r}"
        )
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError(f"FIELD_SERVER_PUBLIC_URL has a bad port: {url!r}") from None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    value = env.get(name, "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _length(env: Mapping[str, str], name: str, default: float) -> float:
    """A length of time above zero; a fraction is taken (0.5 hours)."""
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < 10**6:  # also refuses nan and inf
        raise ValueError(f"{name} must be a number above zero, not {value!r}")
    return number


def _count(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "").strip() or "0"
    if not value.isdigit() or int(value) > 10:
        raise ValueError(f"{name} must be a whole number of proxies from 0 to 10, not {value!r}")
    return int(value)


def _storage_limits(env: Mapping[str, str]) -> StorageLimits:
    default = StorageLimits()
    return StorageLimits(
        user_bytes=_amount(env, "FIELD_SERVER_QUOTA_USER_BYTES", default.user_bytes),
        expedition_bytes=_amount(
            env, "FIELD_SERVER_QUOTA_EXPEDITION_BYTES", default.expedition_bytes
        ),
        open_uploads=_amount(env, "FIELD_SERVER_MAX_OPEN_UPLOADS", default.open_uploads),
    )


def _amount(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}")
    return int(value)


def _days(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not 0 <= days < 100_000:  # also refuses nan and inf
        raise ValueError(f"{name} must be a number of days of 0 or more, not {value!r}")
    return days


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _stored_secret(data_dir: Path) -> str:
    """A secret kept in the data folder, so that every server process shares it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if not path.exists():
        staged = data_dir / f".secret_key.{os.getpid()}"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        # link() refuses to replace: when two processes race, the first secret wins for both
        try:
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(staged)
    return path.read_text().strip()
