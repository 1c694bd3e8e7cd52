"""Reading photo files safely with Pillow: media type, dimensions and thumbnails, whatever a
file declares about itself."""

from __future__ import annotations

import io
import re
from typing import BinaryIO

from PIL import Image, ImageOps

THUMBNAIL_SIDE = 320
THUMBNAIL_QUALITY = 85
# Pillow's own decompression-bomb guard: it refuses to open an image of more than twice this
# many pixels, and this module refuses to decode more than this many.
MAX_DECODED_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
OCTET_STREAM = "application/octet-stream"

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}


class ImageRefused(Exception):
    """A photo the server will not decode; ``code`` says why (``image_too_large``: more pixels
    than it decodes, as a decompression bomb declares; ``unreadable_image``: not an image, or
    truncated or corrupt)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# Pillow names the file it could not identify by its path: the server's data folder, which no
# answer may show.
_PATH = re.compile(r"""(?:[A-Za-z]:)?[\\/][^\s'"]*""")


def _why(error: Exception) -> str:
    """Pillow's reason, without a file path, for the person who sent the file."""
    if isinstance(error, Image.UnidentifiedImageError):
        return ""  # "cannot identify image file <path>" says no more than the sentence before
    text = _PATH.sub("…", str(error)).strip()
    return f" ({text})" if text else ""


def media_type(head: bytes) -> str:
    """The media type a file's first bytes (16 are enough) show, never its name or claim."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return OCTET_STREAM


def dimensions(source: BinaryIO) -> tuple[int, int] | None:
    """Width and height as the file's header declares them, without decoding a pixel; None
    for a file Pillow does not read or refuses (a declared size past its bomb guard)."""
    try:
        with Image.open(source) as image:
            width, height = image.size
    # Pillow signals a hostile or foreign header with many exception types (and, where
    # warnings are errors, with the bomb warning); any of them means "no dimensions".
    except Exception:
        return None
    if width < 1 or height < 1:
        return None
    return width, height


def thumbnail(source: BinaryIO, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG no larger than ``side`` on either edge, turned upright by its EXIF orientation.

    JPEGs are decoded at a reduced scale (draft mode), so a large camera file costs a fraction
    of its full size; any other image is decoded whole only below MAX_DECODED_PIXELS.
    """
    try:
        image = Image.open(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRefused("image_too_large", _bomb_detail(error)) from None
    except Exception as error:
        raise ImageRefused(
            "unreadable_image", f"not an image the server reads{_why(error)}"
        ) from None
    with image:
        declared = image.size
        try:
            if image.format == "JPEG":
                image.draft("RGB", (side, side))
            width, height = image.size
            if width * height > MAX_DECODED_PIXELS:
                raise ImageRefused(
                    "image_too_large",
                    f"the image declares {declared[0]}×{declared[1]} pixels, more than the "
                    f"{MAX_DECODED_PIXELS} the server decodes for a thumbnail",
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((side, side), Image.Resampling.LANCZOS)
            output = io.BytesIO()
            _as_rgb(upright).save(output, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
        except ImageRefused:
            raise
        # a truncated or corrupt file fails in the decoder with OSError, SyntaxError,
        # ValueError and others; each means the file, not the server, is broken
        except Exception as error:
            raise ImageRefused(
                "unreadable_image", f"the image cannot be decoded{_why(error)}"
            ) from None
    return output.getvalue()


def _as_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # transparency over white, as the photo would show on a page
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I"):
        # 16- and 32-bit greyscale (scientific TIFFs): scaled to 8 bits by their own range
        low, high = image.getextrema()
        span = (high - low) or 1
        return image.point(lambda value: (value - low) * 255 / span).convert("L")
    return image.convert("RGB")


def _bomb_detail(error: Exception) -> str:
    return (
        f"the image declares more pixels than the server decodes ({error}); "
        "it may be a decompression bomb"
    )
