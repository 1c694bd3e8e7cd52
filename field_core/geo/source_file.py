"""An imported file: its name in records and messages, the plain-file check, the reader's error."""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import PurePath

# The contract's names are at most 500 characters; a file name is at most 255 bytes on every
# file system the field laptops use, so this only guards against odd callers.
_MAX_NAME = 500
# Surrogates, control characters and line and paragraph separators.
_UNFIT = frozenset({"Cs", "Cc", "Zl", "Zp"})


def source_file_name(path: str | os.PathLike[str]) -> str:
    """The file's own name (no folders), as text any record can hold.

    A name the file system holds in a legacy encoding (a Windows-1251 name on a Linux card
    reader) comes into Python with lone surrogates, which neither UTF-8 nor the contract's
    text pattern accepts; they become U+FFFD, so the name stays recognisable and storable.
    Control characters and line breaks become U+FFFD too, so a message naming the file stays
    on one line.
    """
    name = PurePath(os.fspath(path)).name or os.fspath(path)
    name = "".join("\ufffd" if unicodedata.category(ch) in _UNFIT else ch for ch in name)
    return name[:_MAX_NAME] or "(unnamed file)"


def regular_file_size(path: str | os.PathLike[str]) -> int:
    """The size of a regular file; OSError for a folder, a pipe or a device.

    A reader opening a named pipe would wait forever and one reading /dev/zero would never end,
    so both are refused before the file is opened.
    """
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    return status.st_size


class UnreadableFile(ValueError):
    """A file that cannot be imported; str() is one line that starts with the file's name."""

    def __init__(self, source_file: str, reason: str) -> None:
        self.source_file = source_file
        self.reason = " ".join(reason.split())
        super().__init__(f"{source_file}: {self.reason}")
