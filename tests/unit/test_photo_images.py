"""Reading photo files safely: the media type from magic bytes, dimensions from the header,
thumbnails that refuse bombs and broken files and turn photos upright."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from field_server.adapters.photo_images import (
    OCTET_STREAM,
    ImageRefused,
    dimensions,
    media_type,
    thumbnail,
)
from tests import media_factory as media


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    output = io.BytesIO()
    image.save(output, format, **options)
    return output.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (media.noise_jpeg_bytes()[:16], "image/jpeg"),
        (media.png_bytes()[:16], "image/png"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "image/heif"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"<html><script>", OCTET_STREAM),
        (b"\xff\xd8", OCTET_STREAM),
        (b"", OCTET_STREAM),
    ],
)
def test_the_media_type_comes_from_the_first_bytes(head: bytes, expected: str) -> None:
    assert media_type(head) == expected


def test_dimensions_come_from_the_header_without_decoding() -> None:
    assert dimensions(io.BytesIO(media.noise_jpeg_bytes(64, 48))) == (64, 48)
    assert dimensions(io.BytesIO(media.truncated_jpeg_bytes())) == (320, 240)


@pytest.mark.parametrize(
    "data", [media.png_bomb_bytes(), media.jpeg_bomb_bytes(), b"text", b"", media.png_bytes()[:20]]
)
def test_no_dimensions_for_what_pillow_refuses_or_cannot_read(data: bytes) -> None:
    assert dimensions(io.BytesIO(data)) is None


def test_a_thumbnail_is_a_jpeg_of_at_most_320_px_on_its_long_side() -> None:
    sizes = [((1000, 500), (320, 160)), ((200, 900), (71, 320)), ((40, 30), (40, 30))]
    for size, expected in sizes:
        data = thumbnail(io.BytesIO(media.noise_jpeg_bytes(*size)))
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == ("JPEG", expected)


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [(1, (320, 160)), (3, (320, 160)), (6, (160, 320)), (8, (160, 320))],
)
def test_a_thumbnail_applies_the_exif_orientation(
    orientation: int, expected: tuple[int, int]
) -> None:
    data = thumbnail(io.BytesIO(media.noise_jpeg_bytes(640, 320, orientation=orientation)))
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == expected
        assert ExifTags.Base.Orientation not in image.getexif()


def test_a_large_camera_jpeg_is_decoded_at_a_reduced_scale() -> None:
    big = encoded(Image.new("RGB", (3000, 2000), (120, 90, 60)), "JPEG", quality=80)
    with Image.open(io.BytesIO(thumbnail(io.BytesIO(big)))) as image:
        assert image.size == (320, 213)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGBA", (50, 40), (0, 0, 0, 0)),
        Image.new("P", (50, 40)),
        Image.new("LA", (50, 40)),
        Image.new("CMYK", (50, 40), (0, 50, 100, 0)),
        Image.new("I;16", (50, 40), 40_000),
        Image.new("1", (50, 40), 1),
    ],
    ids=["rgba", "palette", "grey-alpha", "cmyk", "16-bit", "bilevel"],
)
def test_a_thumbnail_of_any_image_mode_is_an_rgb_or_grey_jpeg(image: Image.Image) -> None:
    format = "TIFF" if image.mode in ("CMYK", "I;16") else "PNG"
    data = thumbnail(io.BytesIO(encoded(image, format)))
    with Image.open(io.BytesIO(data)) as result:
        assert result.format == "JPEG"
        assert result.mode in ("RGB", "L")


@pytest.mark.parametrize(
    "data",
    [media.png_bomb_bytes(), media.jpeg_bomb_bytes(), media.png_bomb_bytes(10_000, 10_000)],
    ids=["png-10-gigapixels", "jpeg-4-gigapixels", "png-100-megapixels"],
)
def test_a_decompression_bomb_is_refused_before_decoding(data: bytes) -> None:
    with pytest.raises(ImageRefused) as refused:
        thumbnail(io.BytesIO(data))
    assert refused.value.code == "image_too_large"


@pytest.mark.parametrize(
    "data",
    [media.truncated_jpeg_bytes(), b"plain text", b"", b"\x89PNG\r\n\x1a\n" + bytes(30)],
    ids=["truncated-jpeg", "text", "empty", "png-signature-only"],
)
def test_a_truncated_or_foreign_file_is_refused_as_unreadable(data: bytes) -> None:
    with pytest.raises(ImageRefused) as refused:
        thumbnail(io.BytesIO(data))
    assert refused.value.code == "unreadable_image"
