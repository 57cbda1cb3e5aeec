"""The two-stage match rule: hashes, then pixel alignment (verify.samepicture) for pairs in the
near band. Calibrates MIN_INLIERS / MIN_OVERLAP / MIN_CORRELATION and reports recall and false
matches per transform on the dev set and on the never-seen calibration set.

Run: python benchmarks/bench_second_stage.py [--sets dev]   (prints markdown for RESULTS.md)

Every copy (transform suite of benchmarks/hash_transforms.py, saved as JPEG) is compared with
every original: first `compare` on the hashes; a pair that does not match but lies in
`samepicture.NEAR_RADII` and shares >= MIN_ANCHOR_VOTES_NEAR anchors (counted on the mirror image
when the hashes are closer mirrored), or shares >= MIN_ANCHOR_VOTES anchors with the original, is
aligned on pixels at `CONFIRM_SIDE`. Other pairs are never aligned, exactly as in search and
verify (`cases/search.py` FrameIndex).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hash_transforms import (
    TRANSFORMS,
    SourceImage,
    calibration_images,
    dev_images,
    write_jpeg,
)
from verify import samepicture
from verify.hashindex import words_from_hex
from verify.hashing import compare, hash_file
from verify.media import load_image


def _related(images: list[SourceImage], i: int, j: int) -> bool:
    return images[i].group is not None and images[i].group == images[j].group


def evaluate(images: list[SourceImage], label: str) -> tuple[list[str], list, list]:
    side = samepicture.CONFIRM_SIDE
    originals = [hash_file(s.path) for s in images]
    pixels = [samepicture.PictureFeatures(load_image(s.path, max_side=side)) for s in images]
    anchors = [_anchor_words(f) for f in pixels]
    true_rows: list[tuple[str, bool, samepicture.PictureAlignment | None]] = []
    false_rows: list[tuple[str, bool, samepicture.PictureAlignment | None]] = []
    aligned = 0
    gated_by_anchors = 0
    align_seconds = 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, source in enumerate(images):
            rgb = load_image(source.path)
            for t in [None, *TRANSFORMS]:
                if t is None:
                    query, qpx = originals[i], pixels[i]
                else:
                    path = Path(tmp) / f"{i}_{t.name}.jpg"
                    write_jpeg(path, t.apply(rgb), t.jpeg_quality)
                    query = hash_file(path)
                    qpx = samepicture.PictureFeatures(load_image(path, max_side=side))
                q_anchors = _anchor_words(qpx)
                q_anchors_mirrored = _anchor_words(qpx.mirror())
                name = "originals" if t is None else t.name
                for j in range(len(images)):
                    if (j == i and t is None) or (j != i and _related(images, i, j)):
                        continue
                    m = compare(query, originals[j])
                    # The same selection as cases/search.py FrameIndex.find.
                    near = samepicture.in_near_band(m.distances)
                    direct_votes = _votes(q_anchors, anchors[j])
                    near_votes = _votes(q_anchors_mirrored if m.mirrored else q_anchors, anchors[j])
                    accept_near = near and near_votes >= samepicture.MIN_ANCHOR_VOTES_NEAR
                    accept_anchor = direct_votes >= samepicture.MIN_ANCHOR_VOTES
                    gated_by_anchors += accept_anchor and not accept_near and not m.is_match
                    alignment = None
                    if not m.is_match and (accept_near or accept_anchor):
                        flip = m.mirrored and accept_near
                        t0 = time.perf_counter()
                        alignment = samepicture.align_pictures(pixels[j], qpx, mirrored=flip)
                        align_seconds += time.perf_counter() - t0
                        aligned += 1
                    rows = true_rows if j == i else false_rows
                    rows.append((name, m.is_match, alignment))
    elapsed = time.perf_counter() - started
    pairs = len(true_rows) + len(false_rows)
    cost = (
        f"{label}: {aligned} of {pairs} pairs ({aligned / pairs:.1%}) were aligned "
        f"({gated_by_anchors} of them only because of shared anchors), "
        f"{1000 * align_seconds / max(1, aligned):.1f} ms per alignment (features made once per "
        f"picture); whole run {elapsed:.0f} s"
    )
    return [*report(true_rows, false_rows, label), "", cost], true_rows, false_rows


def _anchor_words(features: samepicture.PictureFeatures) -> np.ndarray:
    anchors = samepicture.anchor_descriptors(features)
    return words_from_hex(samepicture.anchors_to_hex(anchors), 256)


def _votes(query: np.ndarray, stored: np.ndarray) -> int:
    """Query anchors with a stored anchor within ANCHOR_RADIUS bits (what the index counts)."""
    if not len(query) or not len(stored):
        return 0
    dist = np.bitwise_count(query[:, None, :] ^ stored[None, :, :]).sum(axis=2)
    return int((dist.min(axis=1) <= samepicture.ANCHOR_RADIUS).sum())


def _is_match(row: tuple[str, bool, samepicture.PictureAlignment | None]) -> bool:
    return row[1] or (row[2] is not None and row[2].is_same)


def report(true_rows: list, false_rows: list, label: str) -> list[str]:
    out = [
        f"| transform ({label}) | hash-only recall | two-stage recall | two-stage false matches |",
        "| --- | --- | --- | --- |",
    ]
    names = ["originals", *[t.name for t in TRANSFORMS]]
    for name in names:
        trues = [r for r in true_rows if r[0] == name]
        falses = [r for r in false_rows if r[0] == name]
        n = len(trues)
        hash_hits = sum(r[1] for r in trues)
        hits = sum(_is_match(r) for r in trues)
        false = sum(_is_match(r) for r in falses)
        recall = "" if not n else f"{hash_hits / n:.3f}"
        recall2 = "" if not n else f"{hits / n:.3f} ({hits}/{n})"
        out.append(f"| {name} | {recall} | {recall2} | {false}/{len(falses)} |")
    trues = [r for r in true_rows if r[0] != "originals"]
    hits = sum(_is_match(r) for r in trues)
    false = sum(_is_match(r) for r in false_rows)
    hash_hits = sum(r[1] for r in trues)
    out.append(
        f"| **suite** | {hash_hits / len(trues):.3f} | **{hits / len(trues):.3f}** "
        f"({hits}/{len(trues)}) | **{false}/{len(false_rows)}** |"
    )
    return out


def separation(true_rows: list, false_rows: list) -> list[str]:
    """How the aligned true and false pairs spread over the three confirmation measures."""

    def stats(rows: list) -> str:
        al = [r[2] for r in rows if r[2] is not None]
        if not al:
            return "none aligned"
        inl = np.array([a.inliers for a in al])
        cor = np.array([a.correlation for a in al])
        ovl = np.array([a.overlap for a in al])
        return (
            f"{len(al)} aligned; inliers median {np.median(inl):.0f} max {inl.max()}; "
            f"correlation min {cor.min():.3f} median {np.median(cor):.3f} max {cor.max():.3f}; "
            f"overlap median {np.median(ovl):.2f}"
        )

    worst = sorted(
        (r[2] for r in false_rows if r[2] is not None and r[2].inliers >= samepicture.MIN_INLIERS),
        key=lambda a: -a.correlation,
    )[:5]
    lines = [f"- true pairs: {stats(true_rows)}", f"- non-duplicate pairs: {stats(false_rows)}"]
    lines.append(
        "- closest non-duplicates with enough inliers (inliers, overlap, correlation): "
        + ", ".join(f"({a.inliers}, {a.overlap:.2f}, {a.correlation:.3f})" for a in worst)
    )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--sets",
        default="dev,calibration",
        help="which image sets, in order (dev, calibration): run dev alone while choosing",
    )
    args = ap.parse_args()
    sets = {"dev": dev_images, "calibration": calibration_images}
    for label in args.sets.split(","):
        images = sets[label]()
        table, trues, falses = evaluate(images, label)
        print("\n".join(table))
        print()
        print("\n".join(separation(trues, falses)))
        print()


if __name__ == "__main__":
    main()
