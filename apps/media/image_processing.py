"""Probing, decoding, verification, cleaning and thumbnails with Pillow.

Two stages. The web request only probes (`image_probe`): size, magic bytes and the dimensions
the header declares, without decoding a pixel, so a small file declaring tens of megapixels costs
it nothing. The media worker then trusts an upload only after Pillow has decoded every pixel of
it (`image_clean`): the format comes from the decoder, not from the file name or the declared
type. The stored bytes are a re-encoding, so EXIF (GPS, camera serials), XMP and comments never
reach storage; the EXIF orientation is applied to the pixels first so the picture still stands
the right way up.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from apps.media.errors import InvalidImage, MediaTooLarge, TooManyPixels, UnsupportedFormat

# Pillow format name → (content type, file extension)
ACCEPTED_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
ACCEPTED_CONTENT_TYPES = {content_type for content_type, _ in ACCEPTED_FORMATS.values()}
THUMBNAIL_SIZES: dict[str, int] = {"small": 150, "medium": 600}
# Kept through re-encoding: what the pixels need to look right, nothing that describes the user.
_KEPT_INFO = ("transparency", "icc_profile", "duration", "loop", "background")


# The first bytes of each accepted format (WebP: "RIFF", a length, then "WEBP").
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "GIF": (b"GIF87a", b"GIF89a"),
}


def _format_by_magic(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next(
        (name for name, prefixes in _MAGIC.items() if data.startswith(prefixes)),
        None,
    )


@dataclass(frozen=True)
class ProbedImage:
    """What the header of an upload declares; nothing of it has been decoded yet."""

    format: str
    content_type: str
    extension: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str


def _open(data: bytes) -> Image.Image:
    """Open lazily (header only). Pillow's own bomb guard is an error here, never a warning."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels("The image declares more pixels than allowed.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage("The file is not an image we can read.") from exc


def image_probe(data: bytes, *, max_bytes: int, max_pixels: int) -> ProbedImage:
    """The web request's check: size, magic bytes, and the header's format and dimensions, read
    without decoding any pixel. What it passes is only a candidate: the worker's `image_clean`
    decides.

    Raises MediaTooLarge, InvalidImage (empty, or no readable image header), UnsupportedFormat
    (an image, but not JPEG/PNG/WebP/GIF) or TooManyPixels (the header's width x height)."""
    if len(data) > max_bytes:
        raise MediaTooLarge(f"The file is {len(data)} bytes; at most {max_bytes} are allowed.")
    if not data:
        raise InvalidImage("The file is empty.")
    by_magic = _format_by_magic(data)
    with _open(data) as header:  # lazy: reads the header only
        if by_magic is None or header.format != by_magic:
            raise UnsupportedFormat(
                f"{header.format or 'This'} images are not accepted; use JPEG, PNG, WebP or GIF."
            )
        width, height = header.size
    if width * height > max_pixels:
        raise TooManyPixels(
            f"The image is {width}x{height} ({width * height} pixels); at most {max_pixels}."
        )
    content_type, extension = ACCEPTED_FORMATS[by_magic]
    return ProbedImage(
        format=by_magic,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
    )


def image_clean(data: bytes, *, max_bytes: int, max_pixels: int) -> CleanImage:
    """Decode `data` fully, enforce the limits and return a metadata-free re-encoding.

    Raises MediaTooLarge, TooManyPixels (counting every frame of an animation), UnsupportedFormat
    (decodable but not JPEG/PNG/WebP/GIF) or InvalidImage (not an image, truncated, corrupt).
    """
    if len(data) > max_bytes:
        raise MediaTooLarge(f"The file is {len(data)} bytes; at most {max_bytes} are allowed.")
    if not data:
        raise InvalidImage("The file is empty.")

    with _open(data) as probe:
        if probe.format not in ACCEPTED_FORMATS:
            raise UnsupportedFormat(
                f"{probe.format or 'This'} images are not accepted; use JPEG, PNG, WebP or GIF."
            )
        width, height = probe.size
        if width * height > max_pixels:
            raise TooManyPixels(
                f"The image is {width}x{height} ({width * height} pixels); at most {max_pixels}."
            )
        try:
            probe.verify()  # structure and checksums, before any pixel is decoded
        except Exception as exc:  # Pillow raises many types here (struct.error, SyntaxError, ...)
            raise InvalidImage("The image is corrupt.") from exc

    image = _open(data)  # verify() leaves the image unusable; reopen for decoding
    try:
        image_format = image.format or ""
        frames = getattr(image, "n_frames", 1)
        if width * height * frames > max_pixels:
            raise TooManyPixels(
                f"The animation has {frames} frames of {width}x{height}; at most {max_pixels} "
                "pixels in all."
            )
        encoded = _reencode(image, image_format, animated=frames > 1)
    except (TooManyPixels, InvalidImage):
        raise
    except Exception as exc:  # truncated data surfaces as OSError from load()
        raise InvalidImage("The image is truncated or corrupt.") from exc
    finally:
        image.close()

    out_width, out_height = encoded[1]
    content_type, extension = ACCEPTED_FORMATS[image_format]
    return CleanImage(
        data=encoded[0],
        format=image_format,
        content_type=content_type,
        extension=extension,
        width=out_width,
        height=out_height,
        sha256=hashlib.sha256(encoded[0]).hexdigest(),
    )


def _strip_info(image: Image.Image) -> Image.Image:
    image.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    return image


def _reencode(image: Image.Image, image_format: str, *, animated: bool) -> tuple[bytes, tuple]:
    out = io.BytesIO()
    options: dict = {"format": image_format}
    if image_format == "JPEG":
        options.update(quality=90, optimize=True)
    elif image_format == "WEBP":
        options.update(quality=90, method=4)

    if animated:
        # Animations keep their frames; GIF carries no EXIF, and the per-frame info is dropped.
        frames = [_strip_info(frame.copy()) for frame in ImageSequence.Iterator(image)]
        first = frames[0]
        first.info["duration"] = image.info.get("duration", first.info.get("duration", 100))
        if "loop" in image.info:
            first.info["loop"] = image.info["loop"]
        first.save(out, save_all=True, append_images=frames[1:], **options)
        return out.getvalue(), first.size

    image.load()
    upright = ImageOps.exif_transpose(image)  # a copy with the orientation applied to pixels
    _strip_info(upright)
    if image_format == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
        upright = upright.convert("RGB")
    upright.save(out, **options)
    return out.getvalue(), upright.size


def make_thumbnails(data: bytes, sizes: dict[str, int] | None = None) -> dict[str, bytes]:
    """WebP thumbnails fitting in a square of each size (never upscaled), from the first frame."""
    sizes = sizes or THUMBNAIL_SIZES
    with _open(data) as image:
        largest = max(sizes.values())
        if image.format == "JPEG":
            image.draft("RGB", (largest, largest))  # decode at reduced scale: much faster
        image.seek(0)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        base = image.convert("RGBA" if has_alpha else "RGB")
    thumbnails: dict[str, bytes] = {}
    # Largest first, each smaller one from the previous: fewer pixels to resample.
    for name, px in sorted(sizes.items(), key=lambda item: -item[1]):
        base.thumbnail((px, px), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        base.save(out, format="WEBP", quality=80, method=4)
        thumbnails[name] = out.getvalue()
    return thumbnails
