"""The Pillow pipeline on real bytes: formats, limits, corruption, metadata, thumbnails."""

import hashlib
import io

import pytest
from PIL import Image

from apps.media.errors import InvalidImage, MediaTooLarge, TooManyPixels, UnsupportedFormat
from apps.media.image_processing import image_clean, make_thumbnails
from tests.media.images import (
    animated_gif,
    close_to,
    decode,
    image_bytes,
    jpeg_with_exif,
    png_declaring,
    png_with_text,
)

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
def test_each_accepted_format_is_decoded_and_reencoded_in_kind(fmt, content_type, extension):
    clean = image_clean(image_bytes(fmt, (40, 30)), **LIMITS)

    assert (clean.format, clean.content_type, clean.extension) == (fmt, content_type, extension)
    assert (clean.width, clean.height) == (40, 30)
    assert clean.sha256 == hashlib.sha256(clean.data).hexdigest()
    stored = decode(clean.data)
    assert stored.format == fmt
    assert stored.size == (40, 30)
    assert close_to(stored.convert("RGB").getpixel((5, 5)), "red")
    assert close_to(stored.convert("RGB").getpixel((35, 5)), "blue")


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_decodable_but_unaccepted_formats_are_refused(fmt):
    with pytest.raises(UnsupportedFormat):
        image_clean(image_bytes(fmt), **LIMITS)


def test_a_text_file_is_not_an_image():
    with pytest.raises(InvalidImage):
        image_clean(b"just some text, named photo.jpg\n" * 10, **LIMITS)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_truncated_image_is_refused(fmt):
    data = image_bytes(fmt, (64, 64))
    with pytest.raises(InvalidImage):
        image_clean(data[: len(data) // 2], **LIMITS)


def test_an_empty_file_is_refused():
    with pytest.raises(InvalidImage):
        image_clean(b"", **LIMITS)


def test_a_file_over_the_byte_limit_is_refused_before_decoding():
    data = image_bytes("PNG")
    with pytest.raises(MediaTooLarge):
        image_clean(data, max_bytes=len(data) - 1, max_pixels=LIMITS["max_pixels"])


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (100_000, 100_000),  # past Pillow's own DecompressionBombError threshold
        (8_000, 6_000),  # 48 MP: under Pillow's threshold, over ours
    ],
)
def test_a_png_declaring_huge_dimensions_is_refused_without_decoding(width, height):
    bomb = png_declaring(width, height)
    assert len(bomb) < 200

    with pytest.raises(TooManyPixels):
        image_clean(bomb, **LIMITS)


def test_the_pixel_limit_counts_every_frame_of_an_animation():
    gif = animated_gif(frames=3, size=(20, 20))  # 1200 pixels in all

    assert image_clean(gif, max_bytes=LIMITS["max_bytes"], max_pixels=1200).width == 20
    with pytest.raises(TooManyPixels):
        image_clean(gif, max_bytes=LIMITS["max_bytes"], max_pixels=1199)


def test_an_animated_gif_keeps_its_frames():
    clean = image_clean(animated_gif(frames=3), **LIMITS)

    stored = Image.open(io.BytesIO(clean.data))
    assert stored.n_frames == 3


def test_exif_orientation_is_applied_and_all_metadata_stripped():
    original = jpeg_with_exif(orientation=6, size=(40, 20))
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "SpyCam Inc."

    clean = image_clean(original, **LIMITS)

    stored = decode(clean.data)
    # Orientation 6 = rotate 90° clockwise to display: 40x20 becomes 20x40, the left (red) half
    # becomes the top.
    assert (clean.width, clean.height) == (20, 40)
    assert stored.size == (20, 40)
    assert close_to(stored.getpixel((10, 5)), "red")
    assert close_to(stored.getpixel((10, 35)), "blue")
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info
    assert "comment" not in stored.info
    assert b"SpyCam" not in clean.data
    assert b"taken at home" not in clean.data


def test_png_text_chunks_are_stripped():
    clean = image_clean(png_with_text(), **LIMITS)

    assert b"Secret Street" not in clean.data
    assert "Author" not in decode(clean.data).info


def test_thumbnails_are_webp_within_their_box_and_never_upscaled():
    big = make_thumbnails(image_bytes("JPEG", (1200, 800)))
    small_source = make_thumbnails(image_bytes("PNG", (100, 50)))

    assert {name: decode(data).format for name, data in big.items()} == {
        "small": "WEBP",
        "medium": "WEBP",
    }
    assert decode(big["small"]).size == (150, 100)
    assert decode(big["medium"]).size == (600, 400)
    assert decode(small_source["small"]).size == (100, 50)
    assert decode(small_source["medium"]).size == (100, 50)
