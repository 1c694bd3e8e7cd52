"""Half-copied photo files a killed copy left behind go once they are an hour untouched; a
copy under way keeps its own."""

from __future__ import annotations

import os
import time
from pathlib import Path

from field_client.photo_files import clear_partials, photo_folder


def test_old_partials_go_and_fresh_ones_stay(tmp_path: Path) -> None:
    incoming = photo_folder(tmp_path) / "incoming"
    incoming.mkdir(parents=True)
    old, fresh, other = incoming / "a.partial", incoming / "b.partial", incoming / "c.jpg"
    for path in (old, fresh, other):
        path.write_bytes(b"half a photo")
    two_hours_ago = time.time() - 7200
    for path in (old, other):
        os.utime(path, (two_hours_ago, two_hours_ago))
    assert clear_partials(tmp_path) == 1
    assert not old.exists() and fresh.exists() and other.exists()
    assert clear_partials(tmp_path / "never-used") == 0  # no photo folder yet
