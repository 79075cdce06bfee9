"""Finding 6: query photos. EXIF orientation is applied once at intake (stored size, displayed photo, drawn
box and worker agree), and the pixel limit (40 MP) is enforced before any pixel is decoded."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reid_core.video import read_image
from webapp.search.photos import PhotoError, check_photo
from webapp.search.services import clean_box

ORIENTATION = 0x0112


def turned_jpeg() -> bytes:
    """Stored 258x112 (landscape) with Orientation=6: shown upright as 112x258, as phones save photos.
    The top 40 rows as stored (the right edge once upright) are white, the rest dark."""
    pixels = np.full((112, 258, 3), 40, np.uint8)
    pixels[:, :40] = 255  # the left of the stored picture is the top once turned 90 degrees clockwise
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[ORIENTATION] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def test_exif_orientation_is_applied_once_at_intake(tmp_path: Any) -> None:
    checked = check_photo(turned_jpeg())
    assert (checked.width, checked.height) == (112, 258)  # the size the browser shows
    assert checked.turned and not check_photo(checked.data).turned  # turned once, stored upright
    stored = tmp_path / "photo.jpg"
    stored.write_bytes(checked.data)
    with Image.open(stored) as image:
        assert image.size == (112, 258) and image.getexif().get(ORIENTATION) in (None, 1)
    pixels = read_image(stored)  # as the search worker reads the stored photo
    assert pixels.shape[:2] == (258, 112)  # the same upright picture
    assert pixels[:30].mean() > 200 and pixels[60:].mean() < 80  # the white band at its top
    # A box around the lower body, drawn on the upright photo, is kept whole (it was clipped to 112 rows).
    assert clean_box([10, 120, 90, 130], checked.width, checked.height) == [10.0, 120.0, 90.0, 130.0]


def test_a_49_megapixel_photo_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (7000, 7000), (10, 20, 30, 255)).save(out, "PNG", compress_level=1)
    whole = out.getvalue()
    with pytest.raises(PhotoError, match="too large"):
        check_photo(whole)
    # The header alone is refused the same way: nothing was decoded to refuse it.
    with pytest.raises(PhotoError, match="too large"):
        check_photo(whole[:4096])
