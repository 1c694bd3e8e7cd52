"""What makes a file's arrival survive a power cut: after a rename or a new file, the folder
that lists it is synced too, or the name may be lost while the bytes are on disk."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
