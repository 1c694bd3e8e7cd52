"""Server configuration, read from the environment (DESIGN §8)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from field_server.adapters.database import normalise_database_url

DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024
DEFAULT_TOKEN_DAYS = 180  # a season in the field without network must not log the team out
DEFAULT_SCRYPT_COST = 2**15  # 32 MiB per hash with r=8
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3  # Tus-Max-Size: a RAW file or a long video still fits
# the browser libraries `npm ci` installs beside the code
DEFAULT_VENDOR_DIR = Path(__file__).resolve().parent.parent / "node_modules"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    database_url: str
    secret_key: str
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    token_days: int = DEFAULT_TOKEN_DAYS
    scrypt_cost: int = DEFAULT_SCRYPT_COST
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    # the review UI: where leaflet/ (from npm) is, a base-map tile URL template (none: a plain
    # background), and whether its session cookie is sent over HTTPS only
    vendor_dir: Path = DEFAULT_VENDOR_DIR
    tile_url: str | None = None
    secure_cookies: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        env = os.environ if env is None else env
        data_dir = Path(env.get("FIELD_SERVER_DATA_DIR", "./var")).resolve()
        url = env.get("FIELD_SERVER_DATABASE_URL") or sqlite_url(data_dir / "qazba.sqlite3")
        secret = env.get("FIELD_SERVER_SECRET_KEY") or _stored_secret(data_dir)
        return cls(
            data_dir=data_dir,
            database_url=normalise_database_url(url),
            secret_key=secret,
            max_json_bytes=int(env.get("FIELD_SERVER_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES)),
            token_days=int(env.get("FIELD_SERVER_TOKEN_DAYS", DEFAULT_TOKEN_DAYS)),
            scrypt_cost=int(env.get("FIELD_SERVER_SCRYPT_COST", DEFAULT_SCRYPT_COST)),
            max_upload_bytes=int(
                env.get("FIELD_SERVER_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
            ),
            vendor_dir=Path(env.get("FIELD_SERVER_VENDOR_DIR") or DEFAULT_VENDOR_DIR).resolve(),
            tile_url=env.get("FIELD_SERVER_TILE_URL") or None,
            secure_cookies=env.get("FIELD_SERVER_SECURE_COOKIES", "").lower()
            in ("1", "true", "yes"),
        )

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def uploads_dir(self) -> Path:
        """Unfinished uploads; on the same volume as the photos, so a finished one is renamed."""
        return self.data_dir / "uploads"


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
