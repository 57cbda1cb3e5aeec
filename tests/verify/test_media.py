"""`load_image_sizes`: one decode for two working sizes gives exactly the arrays of two
`load_image` calls, and says so (None) when the two would decode the file differently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from verify.errors import UnreadableMediaError
from verify.hashing import HASH_WORKING_SIDE
from verify.media import load_image, load_image_sizes
from verify.samepicture import CONFIRM_SIDE


def _write(path: Path, rgb: np.ndarray, **kwargs: object) -> Path:
    Image.fromarray(rgb).save(path, **kwargs)
    return path


@pytest.fixture(scope="module")
def castle_rgb(sites_dir: Path) -> np.ndarray:
    return load_image(sites_dir / "ettlingen_castle" / "0000.jpg")


def _pictures(tmp: Path, castle_rgb: np.ndarray) -> dict[str, tuple[Path, bool]]:
    """Files, and whether their hash and pixel-check decodes coincide."""
    big = np.asarray(Image.fromarray(castle_rgb).resize((4032, 3024)))
    rotated = Image.Exif()
    rotated[0x0112] = 6
    return {
        # A phone's 12 MP photo: both sizes decode at 1/8 scale.
        "phone_jpeg": (_write(tmp / "phone.jpg", big, quality=85), True),
        # 1536 x 1024: 1/4 for the hashes, 1/2 for the pixel check.
        "mid_jpeg": (_write(tmp / "mid.jpg", castle_rgb, quality=90), False),
        # Under both sizes' reduced scales: decoded in full for both.
        "small_jpeg": (_write(tmp / "small.jpg", castle_rgb[:300, :400], quality=90), True),
        # Not a JPEG: no reduced decode at all.
        "png": (_write(tmp / "shot.png", castle_rgb[:900, :700]), True),
        # EXIF orientation 6 (shot rotated) applied the same way whichever path decodes it.
        "phone_rotated": (_write(tmp / "rotated.jpg", big, quality=85, exif=rotated), True),
    }


def test_one_decode_gives_the_arrays_of_two(tmp_path, castle_rgb):
    for name, (path, coincide) in _pictures(tmp_path, castle_rgb).items():
        both = load_image_sizes(path, HASH_WORKING_SIDE, CONFIRM_SIDE)
        assert (both is not None) == coincide, name
        if both is None:
            continue
        small, large = both
        np.testing.assert_array_equal(small, load_image(path, max_side=HASH_WORKING_SIDE))
        np.testing.assert_array_equal(large, load_image(path, max_side=CONFIRM_SIDE))
        assert small.dtype == large.dtype == np.uint8
        if name == "phone_rotated":
            assert large.shape[0] > large.shape[1]  # the orientation was applied


def test_undecodable_files_fail_as_load_image_does(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(UnreadableMediaError) as separate:
        load_image(bad, max_side=HASH_WORKING_SIDE)
    with pytest.raises(UnreadableMediaError) as shared:
        load_image_sizes(bad, HASH_WORKING_SIDE, CONFIRM_SIDE)
    assert str(shared.value) == str(separate.value)
