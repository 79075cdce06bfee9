"""Query photos: checked with Pillow before anything is stored or queued, read as BGR arrays by the worker.

Pillow's decompression-bomb guard runs when the header is read, before any pixel is decoded, so a photo
claiming a huge size costs nothing to refuse. Its warning level (MAX_IMAGE_PIXELS) is turned into an error
here, and the product's own pixel limit (settings.SIGHTLINE_QUERY_MAX_PIXELS, 40 megapixels) applies
below that, also before decoding.

EXIF orientation is applied once, here: a photo whose EXIF says "rotate" is stored upright (re-encoded,
without the tag), and its recorded size is the upright size. The browser shows the dropped photo upright
and the user draws the box on that; the worker's decoder would also turn it; so the stored size, the
displayed photo, the box and the worker all agree. Before, a photo stored 258x112 with Orientation=6 was
recorded as 258x112 and a box drawn on the upright 112x258 photo was clipped to its top.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"})


class PhotoError(Exception):
    """A photo that cannot be used as a query; the message tells the user what to do."""


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes  # upright: the bytes as dropped, or re-encoded once turned
    sha256: str  # of the bytes as dropped (what the user gave)
    width: int
    height: int
    format: str
    turned: bool = False  # stored upright as its EXIF orientation said (data re-encoded)


def max_bytes() -> int:
    return int(getattr(settings, "SIGHTLINE_QUERY_MAX_BYTES", 25 * 1024 * 1024))


def max_pixels() -> int:
    return int(getattr(settings, "SIGHTLINE_QUERY_MAX_PIXELS", 40_000_000))


def check_photo(data: bytes) -> CheckedPhoto:
    """Accept a photo only if Pillow decodes it fully within the size limits; raise PhotoError otherwise."""
    if not data:
        raise PhotoError("The file is empty. Choose a photo (JPEG or PNG) of the person.")
    sha256 = hashlib.sha256(data).hexdigest()
    turned = False
    if len(data) > max_bytes():
        raise PhotoError(
            f"The photo is {len(data) / 1e6:.1f} MB; the limit is {max_bytes() / 1e6:.0f} MB. "
            "Use a smaller or more compressed photo."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                fmt = image.format or ""
                if width * height > max_pixels():
                    raise PhotoError(_too_big(width * height))
                if fmt not in ACCEPTED_FORMATS:
                    raise PhotoError(f"{fmt or 'This'} images are not accepted; use a JPEG or PNG photo.")
                image.load()  # decodes every pixel: a truncated or corrupt file fails here, not in the worker
                upright = _upright(image, fmt)
                if upright is not None:
                    data, (width, height) = upright
                    turned = True
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(_too_big(_claimed_pixels(exc))) from exc
    except UnidentifiedImageError as exc:
        raise PhotoError("This file is not an image. Drop a photo (JPEG or PNG) of the person.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError("The photo could not be read (it may be truncated or damaged).") from exc
    if width < 16 or height < 16:
        raise PhotoError(f"The photo is only {width}x{height} pixels: too small to describe a person.")
    return CheckedPhoto(data=data, sha256=sha256, width=width, height=height, format=fmt, turned=turned)


# EXIF orientations other than 1 ("as stored") turn or mirror the picture.
_TURNED = frozenset(range(2, 9))
_ORIENTATION_TAG = 0x0112


def _upright(image: Image.Image, fmt: str) -> tuple[bytes, tuple[int, int]] | None:
    """The photo turned as its EXIF orientation says, re-encoded in its format without the tag; None when
    it is stored upright already."""
    if image.getexif().get(_ORIENTATION_TAG) not in _TURNED:
        return None
    turned = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if fmt == "JPEG":
        turned.save(out, format="JPEG", quality=95, icc_profile=image.info.get("icc_profile"))
    else:
        turned.save(out, format=fmt)
    return out.getvalue(), turned.size


def _claimed_pixels(exc: Exception) -> int:
    # Pillow says "Image size (N pixels) exceeds limit ...": the claimed size, without decoding anything.
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return int(match.group(1)) if match else 0


def _amount(pixels: int) -> str:
    return f"{pixels / 1e6:.0f} megapixels" if pixels >= 1_000_000 else f"{pixels:,} pixels"


def _too_big(pixels: int) -> str:
    size = f" ({_amount(pixels)})" if pixels else ""
    return (
        f"The image is too large{size}; the limit is {_amount(max_pixels())}. "
        "Crop or resize the photo and drop it again."
    )
