"""The museum's data is readable by the server's own user only: the database, its WAL, the
photos, uploads and backups (files 0600, folders 0700).

Every ``field-server`` process and the WSGI entry call :func:`keep_private` first: the umask
makes everything they create private, and the data folder and an SQLite database kept
elsewhere lose the group and world bits an older install or a hand-made folder gave them.
Closing the data folder is enough for what lies inside it: nobody else can reach its files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_UMASK = 0o077


def _close(path: Path, mode: int) -> None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    # only what this user owns: a folder shared on purpose (/srv) is not ours to change
    if status.st_uid == os.getuid() and stat.S_IMODE(status.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(status.st_mode) & ~0o077 & mode)


def keep_private(data_dir: Path, database_url: str) -> None:
    os.umask(PRIVATE_UMASK)
    _close(data_dir, 0o700)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database)
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            _close(path, 0o600)
