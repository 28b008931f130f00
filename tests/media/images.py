"""Real image bytes made with Pillow for the media tests."""

import io
import struct
import zlib

from PIL import Image, PngImagePlugin

COLORS = {"red": (220, 20, 20), "blue": (20, 20, 220), "green": (20, 200, 20)}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), **save_options) -> bytes:
    """A two-colour image (left half red, right half blue) encoded in `fmt`."""
    mode = "RGB" if fmt in ("JPEG", "BMP", "TIFF") else "RGBA"
    if fmt == "GIF":
        mode = "P"
    image = Image.new("RGB", size, COLORS["red"])
    image.paste(COLORS["blue"], (size[0] // 2, 0, size[0], size[1]))
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt, **save_options)
    return out.getvalue()


def noisy_png(size: tuple[int, int]) -> bytes:
    """Incompressible pixels, so the file size grows with the dimensions."""
    import os

    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def animated_gif(frames: int = 3, size: tuple[int, int] = (20, 20)) -> bytes:
    images = [Image.new("RGB", size, color).convert("P") for color in COLORS.values()][:frames]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return out.getvalue()


def jpeg_with_exif(orientation: int = 6, size: tuple[int, int] = (40, 20)) -> bytes:
    """A JPEG carrying camera make, GPS position, a comment and an EXIF orientation."""
    image = Image.new("RGB", size, COLORS["red"])
    image.paste(COLORS["blue"], (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x0131] = "secret-firmware"  # Software
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"taken at home", quality=95)
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe, 12 Secret Street")
    info.add_text("Comment", "private")
    return image_bytes("PNG", pnginfo=info)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header declares `width` x `height` pixels: decoding it
    would allocate width*height*3 bytes (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel, color: str, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], COLORS[color], strict=True))
