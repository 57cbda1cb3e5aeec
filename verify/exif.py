"""What a photo says about itself: EXIF capture time, camera, GPS fix, sizes, thumbnail.

Read with exifread (JPEG, TIFF, PNG, WebP, HEIF/HEIC) and normalised into plain frozen data that
round-trips through JSON, because ingest stores it with the item. Anything that cannot be read is
listed in `problems` with the reason; only a file that is not an image at all raises.

No input may hang: the raw tags come from `verify.exifblock`, which bounds exifread's work.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from verify.capturetime import CaptureTime, ZoneSource
from verify.errors import (
    MetadataError,
    VerifyError,
)
from verify.exifblock import index_tags, read_exif_tags
from verify.exifparse import (
    MAX_UTC_OFFSET,
    MIN_UTC_OFFSET,
    dms_to_degrees,
    gps_datetime,
    parse_exif_date,
    parse_exif_datetime,
    parse_utc_offset,
    rational_to_float,
    signed_coordinate,
)
from verify.geo import GeoPoint
from verify.media import IMAGE_TYPES, open_image, require_media_type

# Free-text tags (make, model, software) are cut to this length: long enough for any real value.
MAX_TEXT = 200
# Altitudes outside this range (metres) are not GPS fixes of a camera on or above the ground.
MIN_ALTITUDE_M, MAX_ALTITUDE_M = -1_000.0, 50_000.0
# A GPS clock and a camera clock are taken to agree on a time zone when their difference is a
# whole quarter hour give or take this much camera-clock drift.
GPS_CLOCK_TOLERANCE = timedelta(minutes=10)

# EXIF tag numbers by IFD, as exifread names the IFDs.
_MAKE, _MODEL, _ORIENTATION, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
_DTO, _DTD, _OFFSET_DTO, _OFFSET_DTD = 0x9003, 0x9004, 0x9011, 0x9012
_PIXEL_X, _PIXEL_Y, _SERIAL, _LENS_MAKE, _LENS_MODEL = 0xA002, 0xA003, 0xA431, 0xA433, 0xA434
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 0x0001, 0x0002, 0x0003, 0x0004
_GPS_ALT_REF, _GPS_ALT, _GPS_TIME, _GPS_STATUS = 0x0005, 0x0006, 0x0007, 0x0009
_GPS_DIR_REF, _GPS_DIR, _GPS_DATUM, _GPS_DATE, _GPS_HERROR = 0x0010, 0x0011, 0x0012, 0x001D, 0x001F


@dataclass(frozen=True)
class ImageSize:
    """Width x height in pixels, as stored (before any EXIF rotation)."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    def to_dict(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageSize:
        return cls(width=int(data["width"]), height=int(data["height"]))


@dataclass(frozen=True)
class GpsFix:
    """The GPS block of a photo: position plus whatever else the receiver wrote."""

    position: GeoPoint
    altitude_m: float | None = None
    direction_deg: float | None = None
    direction_ref: str | None = None  # "T" true north, "M" magnetic north
    horizontal_error_m: float | None = None  # GPSHPositioningError
    timestamp_utc: datetime | None = None
    datum: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lat": self.position.lat,
            "lon": self.position.lon,
            "altitude_m": self.altitude_m,
            "direction_deg": self.direction_deg,
            "direction_ref": self.direction_ref,
            "horizontal_error_m": self.horizontal_error_m,
            "timestamp_utc": self.timestamp_utc.isoformat() if self.timestamp_utc else None,
            "datum": self.datum,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GpsFix:
        stamp = data["timestamp_utc"]
        return cls(
            position=GeoPoint(lat=data["lat"], lon=data["lon"]),
            altitude_m=data["altitude_m"],
            direction_deg=data["direction_deg"],
            direction_ref=data["direction_ref"],
            horizontal_error_m=data["horizontal_error_m"],
            timestamp_utc=datetime.fromisoformat(stamp) if stamp else None,
            datum=data["datum"],
        )


@dataclass(frozen=True)
class ThumbnailInfo:
    """An embedded EXIF thumbnail: its format ("jpeg" or "tiff") and size in bytes.

    The bytes themselves are not kept (they would bloat the stored JSON); `extract_thumbnail`
    reads them again when the provenance check needs them.
    """

    format: str
    byte_length: int

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "byte_length": self.byte_length}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThumbnailInfo:
        return cls(format=data["format"], byte_length=int(data["byte_length"]))


@dataclass(frozen=True)
class PhotoMetadata:
    """Everything `extract_photo_metadata` could read from one image file, and what it could not.

    `exif_tag_count` is the number of EXIF tags found (0 = no or stripped EXIF); `problems` are
    one-line reasons, in reading order, for each value that was present but refused or unreadable.
    """

    media_type: str
    capture: CaptureTime | None = None
    modified_local: datetime | None = None  # IFD0 DateTime: when software last wrote the file
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    lens: str | None = None
    software: str | None = None
    orientation: int | None = None
    exif_size: ImageSize | None = None
    decoded_size: ImageSize | None = None
    gps: GpsFix | None = None
    thumbnail: ThumbnailInfo | None = None
    exif_tag_count: int = 0
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data with stable keys (the stored form)."""
        return {
            "media_type": self.media_type,
            "capture": self.capture.to_dict() if self.capture else None,
            "modified_local": self.modified_local.isoformat() if self.modified_local else None,
            "make": self.make,
            "model": self.model,
            "serial": self.serial,
            "lens": self.lens,
            "software": self.software,
            "orientation": self.orientation,
            "exif_size": self.exif_size.to_dict() if self.exif_size else None,
            "decoded_size": self.decoded_size.to_dict() if self.decoded_size else None,
            "gps": self.gps.to_dict() if self.gps else None,
            "thumbnail": self.thumbnail.to_dict() if self.thumbnail else None,
            "exif_tag_count": self.exif_tag_count,
            "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhotoMetadata:
        def opt(key: str, build: Any) -> Any:
            return build(data[key]) if data.get(key) is not None else None

        return cls(
            media_type=data["media_type"],
            capture=opt("capture", CaptureTime.from_dict),
            modified_local=opt("modified_local", datetime.fromisoformat),
            make=data.get("make"),
            model=data.get("model"),
            serial=data.get("serial"),
            lens=data.get("lens"),
            software=data.get("software"),
            orientation=data.get("orientation"),
            exif_size=opt("exif_size", ImageSize.from_dict),
            decoded_size=opt("decoded_size", ImageSize.from_dict),
            gps=opt("gps", GpsFix.from_dict),
            thumbnail=opt("thumbnail", ThumbnailInfo.from_dict),
            exif_tag_count=int(data.get("exif_tag_count", 0)),
            problems=tuple(data.get("problems", ())),
        )


def extract_photo_metadata(path: Path) -> PhotoMetadata:
    """Read and normalise the metadata of one image file.

    Raises `UnreadableMediaError` for an empty or unreadable file and `UnsupportedMediaError`
    for a file that is not an image; every other failure is recorded in `problems`.
    """
    media_type = _sniff_image(path)
    problems: list[str] = []
    raw = read_exif_tags(path, problems)
    tags = index_tags(raw)
    fields: dict[str, Any] = {
        "make": _text(tags, "Image", _MAKE),
        "model": _text(tags, "Image", _MODEL),
        "serial": _text(tags, "EXIF", _SERIAL),
        "software": _text(tags, "Image", _SOFTWARE),
        "lens": _lens(tags),
        "orientation": _orientation(tags, problems),
        "exif_size": _exif_size(tags, problems),
        "modified_local": _datetime_tag(tags, "Image", _DATETIME, "DateTime", problems),
    }
    gps = _gps_fix(tags, problems)
    capture = _capture_time(tags, gps, problems)
    thumb = _thumbnail_info(raw)
    decoded = _decoded_size(path, media_type, problems)
    return PhotoMetadata(
        media_type=media_type,
        capture=capture,
        gps=gps,
        thumbnail=thumb,
        decoded_size=decoded,
        exif_tag_count=len(tags),
        problems=tuple(problems),
        **fields,
    )


def extract_thumbnail(path: Path) -> bytes | None:
    """The embedded EXIF thumbnail (JPEG or TIFF bytes) of an image, or None if it has none."""
    _sniff_image(path)
    raw = read_exif_tags(path, [])
    thumb = raw.get("JPEGThumbnail") or raw.get("TIFFThumbnail")
    return bytes(thumb) if thumb else None


def _sniff_image(path: Path) -> str:
    return require_media_type(path, IMAGE_TYPES, "an image")


def _decoded_size(path: Path, media_type: str, problems: list[str]) -> ImageSize | None:
    try:
        with warnings.catch_warnings():
            # Pillow warns on truncated or bomb-sized files; errors are raised and recorded.
            warnings.simplefilter("ignore")
            img = open_image(path)
            size = ImageSize(*img.size)
            img.close()
        return size
    except VerifyError as exc:
        problems.append(f"image not decodable ({media_type}): {exc}")
    except Exception as exc:
        # open_image lets some of Pillow's plugin errors through (DecompressionBombError from
        # the WebP header, struct.error...): recorded like any other undecodable image.
        problems.append(f"image not decodable ({media_type}): {type(exc).__name__}: {exc}"[:200])
    return None


# -- values ----------------------------------------------------------------------------------


def _text(tags: dict[tuple[str, int], Any], ifd: str, number: int) -> str | None:
    tag = tags.get((ifd, number))
    if tag is None:
        return None
    value = tag.values
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()
    return cleaned[:MAX_TEXT] or None


def _lens(tags: dict[tuple[str, int], Any]) -> str | None:
    parts = [_text(tags, "EXIF", _LENS_MAKE), _text(tags, "EXIF", _LENS_MODEL)]
    text = " ".join(p for p in parts if p)
    return text or None


def _ints(tag: Any) -> list[int]:
    values = tag.values
    if isinstance(values, str | bytes) or not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, int)]


def _rationals(tag: Any) -> list[float]:
    """The numbers of a RATIONAL tag; raises MetadataError on zero denominators."""
    values = tag.values
    if isinstance(values, str | bytes) or not isinstance(values, list) or not values:
        raise MetadataError("value is not a list of numbers")
    out = []
    for v in values:
        if hasattr(v, "denominator"):
            out.append(rational_to_float(int(v.numerator), int(v.denominator)))
        elif isinstance(v, int):
            out.append(float(v))
        else:
            raise MetadataError(f"value {v!r} is not a number")
    return out


def _orientation(tags: dict[tuple[str, int], Any], problems: list[str]) -> int | None:
    tag = tags.get(("Image", _ORIENTATION))
    if tag is None:
        return None
    values = _ints(tag)
    if len(values) == 1 and 1 <= values[0] <= 8:
        return values[0]
    problems.append(f"Orientation {tag.printable!s:.40} is not one of 1..8")
    return None


def _exif_size(tags: dict[tuple[str, int], Any], problems: list[str]) -> ImageSize | None:
    x, y = tags.get(("EXIF", _PIXEL_X)), tags.get(("EXIF", _PIXEL_Y))
    if x is None or y is None:
        return None
    xs, ys = _ints(x), _ints(y)
    if len(xs) == 1 and len(ys) == 1 and 0 < xs[0] <= 1_000_000 and 0 < ys[0] <= 1_000_000:
        return ImageSize(xs[0], ys[0])
    problems.append(
        f"PixelXDimension/PixelYDimension {x.printable!s:.20}x{y.printable!s:.20} invalid"
    )
    return None


def _datetime_tag(
    tags: dict[tuple[str, int], Any], ifd: str, number: int, name: str, problems: list[str]
) -> datetime | None:
    tag = tags.get((ifd, number))
    if tag is None:
        return None
    if not isinstance(tag.values, str):
        problems.append(f"{name} is not text")
        return None
    try:
        return parse_exif_datetime(tag.values)
    except MetadataError as exc:
        problems.append(f"{name}: {exc}")
        return None


def _capture_time(
    tags: dict[tuple[str, int], Any], gps: GpsFix | None, problems: list[str]
) -> CaptureTime | None:
    """DateTimeOriginal (else DateTimeDigitized) with the best zone evidence available.

    Zone order: the matching OffsetTime tag; else the GPS clock, used only when its difference
    from the camera clock is a real UTC offset (-12:00..+14:00, a whole quarter hour within
    GPS_CLOCK_TOLERANCE); else the time stays local with the zone marked unknown.
    """
    candidates = (
        (_DTO, _OFFSET_DTO, "DateTimeOriginal"),
        (_DTD, _OFFSET_DTD, "DateTimeDigitized"),
    )
    found = None
    for number, offset_number, name in candidates:
        local = _datetime_tag(tags, "EXIF", number, name, problems)
        if local is not None:
            found = (local, offset_number, name)
            break
    if found is None:
        return None
    local, offset_number, name = found
    offset_tag = _text(tags, "EXIF", offset_number)
    if offset_tag is not None:
        try:
            offset = parse_utc_offset(offset_tag)
        except MetadataError as exc:
            problems.append(f"{name} offset: {exc}")
        else:
            utc = _utc_of(local, offset, name, problems)
            if utc is None:
                return CaptureTime(local=local, utc=None, zone=ZoneSource.UNKNOWN, source=name)
            return CaptureTime(
                local=local,
                utc=utc,
                zone=ZoneSource.OFFSET_TAG,
                source=name,
                utc_offset_minutes=int(offset.total_seconds() // 60),
            )
    if gps is not None and gps.timestamp_utc is not None:
        gps_offset = _offset_from_gps(local, gps.timestamp_utc)
        if gps_offset is None:
            problems.append(
                f"GPS time {gps.timestamp_utc:%Y-%m-%d %H:%M:%S} UTC and {name} "
                f"{local:%Y-%m-%d %H:%M:%S} differ by "
                f"{(local - gps.timestamp_utc.replace(tzinfo=None)).total_seconds() / 3600:+.2f} h"
                ", not a time-zone offset: zone left unknown"
            )
        else:
            utc = _utc_of(local, gps_offset, name, problems)
            if utc is None:
                return CaptureTime(local=local, utc=None, zone=ZoneSource.UNKNOWN, source=name)
            return CaptureTime(
                local=local,
                utc=utc,
                zone=ZoneSource.GPS,
                source=name,
                utc_offset_minutes=int(gps_offset.total_seconds() // 60),
            )
    return CaptureTime(local=local, utc=None, zone=ZoneSource.UNKNOWN, source=name)


def _utc_of(local: datetime, offset: timedelta, name: str, problems: list[str]) -> datetime | None:
    # A hostile or garbled file can carry 9999:12:31 23:59:59 at -12:00 (or year 1 at +14:00):
    # a legal tag whose UTC instant is off the calendar. It has no UTC time, said why.
    try:
        return (local - offset).replace(tzinfo=UTC)
    except OverflowError:
        problems.append(
            f"{name} {local.isoformat(sep=' ')} at UTC offset {_offset_text(offset)} is outside "
            "the calendar in UTC: zone left unknown"
        )
        return None


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _offset_from_gps(local: datetime, gps_utc: datetime) -> timedelta | None:
    implied = local - gps_utc.replace(tzinfo=None)
    quarter = timedelta(minutes=15)
    rounded = quarter * round(implied / quarter)
    if abs(implied - rounded) > GPS_CLOCK_TOLERANCE:
        return None
    if not MIN_UTC_OFFSET <= rounded <= MAX_UTC_OFFSET:
        return None
    return rounded


def _gps_fix(tags: dict[tuple[str, int], Any], problems: list[str]) -> GpsFix | None:
    lat_tag, lon_tag = tags.get(("GPS", _GPS_LAT)), tags.get(("GPS", _GPS_LON))
    if lat_tag is None and lon_tag is None:
        return None
    try:
        if lat_tag is None or lon_tag is None:
            raise MetadataError("only one of latitude and longitude is present")
        lat = signed_coordinate(_degrees(lat_tag), _text(tags, "GPS", _GPS_LAT_REF), "lat")
        lon = signed_coordinate(_degrees(lon_tag), _text(tags, "GPS", _GPS_LON_REF), "lon")
        if lat == 0.0 and lon == 0.0:
            raise MetadataError("position 0,0 is the placeholder of writers without a fix")
        status = _text(tags, "GPS", _GPS_STATUS)
        if status is not None and status.upper().startswith("V"):
            raise MetadataError("GPSStatus is V: the receiver marked the measurement void")
        position = GeoPoint(lat, lon)
    except (MetadataError, VerifyError) as exc:
        problems.append(f"GPS position refused: {exc}")
        return None
    return GpsFix(
        position=position,
        altitude_m=_altitude(tags, problems),
        direction_deg=_bounded(tags, _GPS_DIR, "GPSImgDirection", 0.0, 360.0, problems),
        direction_ref=_text(tags, "GPS", _GPS_DIR_REF),
        horizontal_error_m=_bounded(
            tags, _GPS_HERROR, "GPSHPositioningError", 0.0, 100_000.0, problems
        ),
        timestamp_utc=_gps_timestamp(tags, problems),
        datum=_text(tags, "GPS", _GPS_DATUM),
    )


def _degrees(tag: Any) -> float:
    values = _rationals(tag)
    if len(values) == 3:
        return dms_to_degrees(*values)
    if len(values) == 1:
        return dms_to_degrees(values[0], 0.0, 0.0)
    raise MetadataError(f"{len(values)} values where degrees, minutes, seconds are expected")


def _bounded(
    tags: dict[tuple[str, int], Any],
    number: int,
    name: str,
    low: float,
    high: float,
    problems: list[str],
) -> float | None:
    tag = tags.get(("GPS", number))
    if tag is None:
        return None
    try:
        values = _rationals(tag)
    except MetadataError as exc:
        problems.append(f"{name}: {exc}")
        return None
    if len(values) != 1 or not low <= values[0] <= high:
        problems.append(f"{name} {tag.printable!s:.40} outside {low:g}..{high:g}")
        return None
    return values[0]


def _altitude(tags: dict[tuple[str, int], Any], problems: list[str]) -> float | None:
    value = _bounded(tags, _GPS_ALT, "GPSAltitude", 0.0, MAX_ALTITUDE_M, problems)
    if value is None:
        return None
    ref_tag = tags.get(("GPS", _GPS_ALT_REF))
    ref = _ints(ref_tag) if ref_tag is not None else [0]
    if ref == [1]:
        value = -value
    if value < MIN_ALTITUDE_M:
        problems.append(f"GPSAltitude {value:g} m below {MIN_ALTITUDE_M:g} m")
        return None
    return value


def _gps_timestamp(tags: dict[tuple[str, int], Any], problems: list[str]) -> datetime | None:
    date_text, time_tag = _text(tags, "GPS", _GPS_DATE), tags.get(("GPS", _GPS_TIME))
    if date_text is None or time_tag is None:
        return None
    try:
        day: date = parse_exif_date(date_text)
        hms = _rationals(time_tag)
        if len(hms) != 3:
            raise MetadataError("GPSTimeStamp needs hours, minutes, seconds")
        return gps_datetime(day, (hms[0], hms[1], hms[2]))
    except MetadataError as exc:
        problems.append(f"GPS date/time: {exc}")
        return None


def _thumbnail_info(raw: dict[str, Any]) -> ThumbnailInfo | None:
    for key, fmt in (("JPEGThumbnail", "jpeg"), ("TIFFThumbnail", "tiff")):
        data = raw.get(key)
        if isinstance(data, bytes | bytearray) and data:
            return ThumbnailInfo(format=fmt, byte_length=len(data))
    return None
