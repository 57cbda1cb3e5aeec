"""Write demo JPEGs with the EXIF a phone camera would record: make, model, capture time with its
UTC offset, and optionally a GPS position.

Pillow writes the Exif and GPS sub-IFDs itself, so no extra dependency is needed. The GPS
timestamp is written in UTC, as the EXIF standard requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_DATETIME = 0x0132
_TAG_SOFTWARE = 0x0131
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_VERSION, _GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 0, 1, 2, 3, 4
_GPS_TIMESTAMP, _GPS_DATESTAMP = 7, 29


@dataclass(frozen=True)
class CameraTags:
    """What the photo's metadata says about how it was taken."""

    make: str
    model: str
    taken: datetime  # timezone-aware
    latitude: float | None = None
    longitude: float | None = None


def _dms(value: float) -> tuple[float, float, float]:
    """Degrees, minutes, seconds (seconds to 1/100) as EXIF stores a coordinate."""
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 2)
    return (float(degrees), float(minutes), seconds)


def _exif(tags: CameraTags) -> Image.Exif:
    exif = Image.Exif()
    exif[_TAG_MAKE] = tags.make
    exif[_TAG_MODEL] = tags.model
    exif[_TAG_SOFTWARE] = f"{tags.model} camera"
    stamp = tags.taken.strftime("%Y:%m:%d %H:%M:%S")
    exif[_TAG_DATETIME] = stamp
    sub = exif.get_ifd(_IFD_EXIF)
    sub[_EXIF_DATETIME_ORIGINAL] = stamp
    offset = tags.taken.strftime("%z")
    sub[_EXIF_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
    if tags.latitude is not None and tags.longitude is not None:
        utc = tags.taken.astimezone(UTC)
        gps = exif.get_ifd(_IFD_GPS)
        gps[_GPS_VERSION] = b"\x02\x03\x00\x00"
        gps[_GPS_LAT_REF] = "N" if tags.latitude >= 0 else "S"
        gps[_GPS_LAT] = _dms(tags.latitude)
        gps[_GPS_LON_REF] = "E" if tags.longitude >= 0 else "W"
        gps[_GPS_LON] = _dms(tags.longitude)
        gps[_GPS_TIMESTAMP] = (float(utc.hour), float(utc.minute), float(utc.second))
        gps[_GPS_DATESTAMP] = utc.strftime("%Y:%m:%d")
    return exif


def write_jpeg(
    path: Path, rgb: np.ndarray, *, quality: int = 90, tags: CameraTags | None = None
) -> Path:
    """Save an RGB uint8 image as JPEG, with the given camera metadata or none at all."""
    image = Image.fromarray(rgb, "RGB")
    options: dict[str, object] = {"quality": quality}
    if tags is not None:
        options["exif"] = _exif(tags).tobytes()
    image.save(path, "JPEG", **options)
    return path
