"""Photo files the tests make with Pillow: camera-like JPEGs, decompression bombs, truncated
files, and the photo records that name them."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import uuid
import zlib
from typing import Any

from PIL import Image

EXIF_ORIENTATION = 0x0112


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jpeg(
    width: int = 64, height: int = 48, *, seed: int = 0, orientation: int | None = None
) -> bytes:
    """A JPEG of noise (so it does not compress to nothing), optionally with an EXIF
    orientation; the left half is dark and the right half light, to tell turns apart."""
    pixels = random.Random(seed).randbytes(width * height * 3)
    noise = Image.frombytes("RGB", (width, height), pixels)
    image = noise.point(lambda v: 170 + v * 85 // 255)
    half = width // 2
    if half:
        image.paste(noise.crop((0, 0, half, height)).point(lambda v: v * 90 // 255), (0, 0))
    output = io.BytesIO()
    if orientation is None:
        image.save(output, "JPEG", quality=92)
    else:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        image.save(output, "JPEG", quality=92, exif=exif)
    return output.getvalue()


def png(width: int = 32, height: int = 24, mode: str = "RGBA") -> bytes:
    output = io.BytesIO()
    Image.new(mode, (width, height), (10, 120, 30, 128) if mode == "RGBA" else 128).save(
        output, "PNG"
    )
    return output.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` pixels: Pillow makes a 1×1 PNG,
    and its IHDR chunk is rewritten (with a correct CRC) to claim the huge size."""
    data = bytearray(png(1, 1, "L"))
    # signature (8) + length (4) + b"IHDR" (4), then width and height
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    return bytes(data)


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header (SOF0) declares ``width`` × ``height`` pixels."""
    data = bytearray(jpeg(16, 16))
    marker = data.index(b"\xff\xc0")
    # marker (2), length (2), precision (1), then height and width
    data[marker + 5 : marker + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def truncated_jpeg() -> bytes:
    whole = jpeg(320, 240, seed=7)
    return whole[: len(whole) * 6 // 10]


def survey_record(expedition_code: str = "ULY-2026") -> dict[str, Any]:
    return {
        "type": "survey",
        "uuid": str(uuid.uuid4()),
        "base_rev": 0,
        "rev": 1,
        "data": {
            "expedition_code": expedition_code,
            "title": "Фотосъёмка раскопа",
            "team": ["recorder"],
            "started_on": "2026-06-01",
            "ended_on": None,
            "notes": None,
        },
    }


def photo_record(
    survey_uuid: str, data: bytes, width: int = 64, height: int = 48
) -> dict[str, Any]:
    return {
        "type": "photo",
        "uuid": str(uuid.uuid4()),
        "base_rev": 0,
        "rev": 1,
        "data": {
            "survey_uuid": survey_uuid,
            "sha256": sha256(data),
            "bytes": len(data),
            "media_type": "image/jpeg",
            "width": width,
            "height": height,
            "taken_at": "2026-06-02T10:15:00+05:00",
            "position": None,
            "position_source": "none",
            "caption": "Басқамыр, шурф 2",
            "find_uuids": [],
        },
    }
