"""The font the museum's documents are printed in: DejaVu Sans, which has every Kazakh letter.

The TrueType files come with matplotlib (its bundled ``mpl-data/fonts/ttf``), so no system
font package is needed; the PDF writer embeds the subset it uses.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path


class FontMissing(RuntimeError):
    """The document font cannot be found: the server cannot print PDFs."""


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


@cache
def dejavu_sans() -> FontFiles:
    """The regular and bold DejaVu Sans files; :class:`FontMissing` says what to install."""
    # found, not imported: importing matplotlib costs a fifth of a second, and only its data
    # folder is needed
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FontMissing("PDF documents need DejaVu Sans from matplotlib: pip install matplotlib")
    folder = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf"
    files = FontFiles(folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf")
    for path in (files.regular, files.bold):
        if not path.is_file():
            raise FontMissing(f"PDF documents need {path.name}, not found in {folder}")
    return files
