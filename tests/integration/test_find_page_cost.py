"""A find page's cost does not grow with the images it names (security finding 1): a find
naming many large PNGs is shown without decoding any of them, the first time and after, and
what each file says is read once and kept beside it."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from tests.integration import tus_client as tus
from tests.integration.conftest import World, sample_batch
from tests.integration.web_session import browser

SIDE = 3000  # a PNG of 9 million pixels; the audit's 9400 x 9400 ones are timed in bench/


def big_png(seed: int) -> bytes:
    image = Image.new("L", (SIDE, SIDE), 180)
    rng = random.Random(seed)
    for _ in range(50):  # a few dark specks, so that every file is a photo of its own
        image.putpixel((rng.randrange(SIDE), rng.randrange(SIDE)), rng.randrange(60))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every full decode of an image from now on, by format."""
    seen: list[str] = []

    def counting(real: Any) -> Any:
        def load(image: Image.Image) -> Any:
            seen.append(str(image.format))
            return real(image)

        return load

    monkeypatch.setattr(Image.Image, "load", counting(Image.Image.load))
    monkeypatch.setattr(
        PngImagePlugin.PngImageFile, "load", counting(PngImagePlugin.PngImageFile.load)
    )
    return seen


def test_a_find_naming_large_pngs_is_shown_without_decoding_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = [tus.stored_photo(world, "recorder", big_png(seed)) for seed in range(4)]
    batch = sample_batch("ULY-2026")
    batch[1]["data"]["photos"] = digests
    world.pushed("recorder", batch)
    find_page = f"/finds/{batch[1]['uuid']}"
    reviewer = browser(world, "reviewer")

    seen = count_decodes(monkeypatch)  # from here on: the uploads above decoded each file once
    first = reviewer.get(find_page)
    assert first.status_code == 200
    again = reviewer.get(find_page)
    assert again.status_code == 200
    assert seen == []
    text = again.get_data(as_text=True)
    assert text.count(f"{SIDE} × {SIDE}") >= len(digests)

    # what each file says is kept beside it, and the page reads that
    store = world.runtime.photos.store
    for digest in digests:
        kept = store.open_derivative(digest, "reading-1.json")
        assert kept is not None
        kept.close()
