"""The client's home folder (FIELD_CLIENT_HOME): where it is, who may read it, the token file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from field_client.errors import ClientError

HOME_VARIABLE = "FIELD_CLIENT_HOME"
DEFAULT_HOME = "~/.field-client"
STORE_NAME = "field-client.sqlite3"
TOKEN_NAME = "token"


def home_dir() -> Path:
    raw = os.environ.get(HOME_VARIABLE) or DEFAULT_HOME
    return Path(raw).expanduser()


def ensure_home(path: Path) -> Path:
    """Create the folder (owner only) if needed; refuse a path that is not a usable folder."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise ClientError(f"{path} ({HOME_VARIABLE}) exists and is not a folder") from None
    except OSError as error:
        raise ClientError(f"cannot create the home folder {path}: {error.strerror}") from None
    if not path.is_dir():
        raise ClientError(f"{path} ({HOME_VARIABLE}) is not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ClientError(f"the home folder {path} is not writable")
    return path


def store_path(home: Path) -> Path:
    return home / STORE_NAME


def write_token(home: Path, token: str) -> None:
    """Replace the token file atomically; it is created 0600 so no other user ever reads it."""
    target = home / TOKEN_NAME
    partial = home / f".{TOKEN_NAME}.partial"
    try:
        partial.unlink(missing_ok=True)
        # O_EXCL: never write through a file (or link) someone else put there
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask may have narrowed it, never widened: be exact
            os.write(fd, token.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)
        _sync_folder(home)
    except OSError as error:
        raise ClientError(f"cannot write the token file {target}: {error.strerror}") from None


def read_token(home: Path) -> str | None:
    """The stored token, or None before the first login.

    A token file others can read is refused, as ssh refuses a loose key: the token is as good as
    the password until it expires.
    """
    path = home / TOKEN_NAME
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ClientError(f"cannot read the token file {path}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ClientError(f"the token file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise ClientError(
            f"the token file {path} may be read by others (mode {info.st_mode & 0o777:o}); "
            "run field-client login again or chmod 600 it"
        )
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise ClientError(f"the token file {path} is unreadable; log in again") from None
    return token or None


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder entry itself is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
