"""Metadata extraction throughput vs the other per-file steps of ingest, thumbnail-hash distances
behind THUMBNAIL_PHASH_MAX_DISTANCE, and the place check on the calibration drone survey.

Run: /work/venv/bin/python benchmarks/bench_metadata.py  (prints a Markdown section)
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import imagehash
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from verify.errors import VerifyError  # noqa: E402
from verify.exif import extract_photo_metadata, extract_thumbnail  # noqa: E402
from verify.geo import GeoPoint, destination, distance_m  # noqa: E402
from verify.hashing import hash_file  # noqa: E402
from verify.media import load_image  # noqa: E402
from verify.placecheck import SiteArea, check_place  # noqa: E402
from verify.provenance import (  # noqa: E402
    THUMBNAIL_PHASH_MAX_DISTANCE,
    _decode_thumbnail,
    find_traces,
)

SHARED = ROOT.parent / "shared"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heif", ".heic"}
REPEATS = 5


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def time_per_file(func, files: list[Path]) -> float:
    """Median over REPEATS of the total seconds to run func on every file (errors count)."""
    totals = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for path in files:
            # An unreadable file (HEIF without a decoder) still costs its time.
            with contextlib.suppress(VerifyError):
                func(path)
        totals.append(time.perf_counter() - start)
    return statistics.median(totals)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_and_decode(path: Path) -> None:
    sha256_file(path)
    load_image(path)


def throughput_rows(sets: dict[str, list[Path]]) -> list[str]:
    """Files/s of each per-file ingest step (cases/ingest.py + cases/analysis.py: SHA-256 of the
    blob, metadata, perceptual hashes) and of the verify-time trace search."""
    rows = [
        "| files | n | metadata (files/s) | SHA-256 (files/s) | perceptual hashes, hash_file "
        "(files/s) | load_image (files/s) | SHA-256 + load_image (files/s) | find_traces "
        "(files/s) | slowest ingest step |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, files in sets.items():
        n = len(files)
        meta_t = time_per_file(extract_photo_metadata, files)
        sha_t = time_per_file(sha256_file, files)
        phash_t = time_per_file(hash_file, files)
        load_t = time_per_file(load_image, files)
        both_t = time_per_file(hash_and_decode, files)
        metas = {p: extract_photo_metadata(p) for p in files}
        traces_t = time_per_file(lambda p, metas=metas: find_traces(metas[p], p), files)
        steps = {"metadata": meta_t, "SHA-256": sha_t, "perceptual hashes": phash_t}
        slowest = max(steps, key=lambda k: steps[k])
        rows.append(
            f"| {name} | {n} | {n / meta_t:,.0f} | {n / sha_t:,.0f} | {n / phash_t:,.0f} | "
            f"{n / load_t:,.0f} | {n / both_t:,.0f} | {n / traces_t:,.0f} | {slowest} |"
        )
    return rows


def slowest_single(files: list[Path]) -> tuple[str, float]:
    worst = ("", 0.0)
    for path in files:
        start = time.perf_counter()
        extract_photo_metadata(path)
        elapsed = time.perf_counter() - start
        worst = max(worst, (path.name, elapsed), key=lambda w: w[1])
    return worst


def thumbnail_distances(files: list[Path]) -> tuple[list[int], list[int]]:
    """pHash distance of each thumbnail to its own image and to every other image of the set."""
    thumbs, mains = {}, {}
    for path in files:
        meta = extract_photo_metadata(path)
        data = extract_thumbnail(path) if meta.thumbnail else None
        if data is None:
            continue
        thumbs[path] = imagehash.phash(_decode_thumbnail(data, meta.orientation))
    for path in files:
        try:
            mains[path] = imagehash.phash(Image.fromarray(load_image(path, max_side=512)))
        except VerifyError:
            continue
    same = [int(thumbs[p] - mains[p]) for p in thumbs if p in mains]
    cross = [int(thumbs[p] - mains[q]) for p in thumbs for q in mains if q != p]
    return same, cross


def place_rows(name: str, files: list[Path]) -> list[str]:
    points = [m.gps.position for m in map(extract_photo_metadata, files) if m.gps]
    centre = GeoPoint(
        sum(p.lat for p in points) / len(points), sum(p.lon for p in points) / len(points)
    )
    spread = max(distance_m(centre, p) for p in points)
    here = SiteArea("survey site", centre, 300.0)
    away = SiteArea("site 5 km away", destination(centre, 60.0, 5_000.0), 300.0)
    at_here = [check_place(p, [here, away], "survey site").verdict.value for p in points]
    at_away = [check_place(p, [here, away], "site 5 km away").verdict.value for p in points]
    return [
        f"- {name}: {len(points)} of {len(files)} photos have GPS; mean position {centre}; "
        f"farthest photo {spread:,.0f} m from it.",
        f"  - claimed site at the mean, radius 300 m: {_count(at_here)}",
        f"  - claimed site 5 km away (radius 300 m): {_count(at_away)}",
    ]


def _count(verdicts: list[str]) -> str:
    return ", ".join(f"{v} {verdicts.count(v)}" for v in sorted(set(verdicts)))


def hostile_ifd_seconds(tmp: Path) -> float:
    """Extraction time of a TIFF whose IFD declares 65535 entries with 4 GB counts."""
    import struct

    body = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535))
    for _ in range(20):
        body += struct.pack("<HHII", 0x010F, 2, 0xFFFFFFFF, 0xFFFFFF00)
        body += struct.pack("<HHII", 0x0002, 5, 999, 12)
    path = tmp / "hostile.tif"
    path.write_bytes(bytes(body))
    start = time.perf_counter()
    meta = extract_photo_metadata(path)
    elapsed = time.perf_counter() - start
    assert any("abandoned" in p for p in meta.problems), meta.problems
    return elapsed


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, Python {platform.python_version()}"


def main() -> None:
    exif = image_files(SHARED / "data" / "exif")
    sites = image_files(SHARED / "data" / "sites")
    drone = image_files(SHARED / "calibration" / "palm_desert_drone")
    decodable_exif = [p for p in exif if p.suffix.lower() not in {".heif", ".heic"}]
    sets = {
        "data/exif (JPEG only: no HEIF decoder for load_image)": decodable_exif,
        "data/sites": sites,
        "calibration/palm_desert_drone": drone,
    }
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    out = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()} (2 cores, shared with"
        f" 5 other agents, load average {' '.join(load) or 'unknown'} at the start: timings are"
        " noisy, medians of 5 runs).",
        "",
    ]
    out += throughput_rows(sets)
    worst = slowest_single(exif + sites + drone)
    invalid = image_files(SHARED / "data" / "exif" / "invalid")
    invalid_worst = slowest_single(invalid)
    with tempfile.TemporaryDirectory() as tmp:
        hostile = hostile_ifd_seconds(Path(tmp))
    out += [
        "",
        f"Slowest single extraction over all {len(exif) + len(sites) + len(drone)} files: "
        f"{worst[0]} {worst[1] * 1000:.1f} ms; slowest of exif/invalid: {invalid_worst[0]} "
        f"{invalid_worst[1] * 1000:.1f} ms.",
        f"Hostile TIFF (IFD declaring 65535 entries, 4 GB counts): {hostile:.3f} s until the "
        "read budget ends it.",
        "",
        "Thumbnail pHash distance (THUMBNAIL_PHASH_MAX_DISTANCE = "
        f"{THUMBNAIL_PHASH_MAX_DISTANCE}):",
    ]
    for name, files in (("dev data/exif + data/sites", exif + sites), ("calibration drone", drone)):
        same, cross = thumbnail_distances(files)
        if not same:
            out.append(f"- {name}: no EXIF thumbnails")
            continue
        out.append(
            f"- {name}: {len(same)} thumbnails; to their own image max {max(same)} "
            f"(mean {statistics.mean(same):.1f}); to other images of the set min "
            f"{min(cross)} (median {statistics.median(cross):.0f}, {len(cross)} pairs)"
        )
    out += ["", "Place check (sites placed from the photos' own GPS):"]
    out += place_rows(
        "dev data/exif/gps (Arezzo walk)", image_files(SHARED / "data" / "exif" / "gps")
    )
    out += place_rows("calibration/palm_desert_drone", drone)
    out += ["", "Provenance traces on calibration (measured once, nothing tuned on it):"]
    kinds: dict[str, int] = {}
    for path in drone:
        for trace in find_traces(extract_photo_metadata(path), path, presented_as_original=True):
            kinds[trace.kind.value] = kinds.get(trace.kind.value, 0) + 1
    out.append(
        f"- {len(drone)} drone photos: "
        + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
    )
    print("\n".join(out))


if __name__ == "__main__":
    main()
