"""Train the visual vocabulary `verify.geometry` restricts RootSIFT matching to.

Run: /work/venv/bin/python benchmarks/train_match_vocabulary.py [--check]

The vocabulary is 64 k-means centres of RootSIFT descriptors (default feature settings) of the
development photos in ../shared/data (every distinct photo: sites, the office sequence, the GPS
photos, one landscape and one portrait orientation photo), 60,000 descriptors drawn with a fixed
seed, faiss k-means (20 iterations, seed 0, one thread). It is written to
`verify/data/rootsift_words.npy` (32 KB), which ships with the package, so matching never
depends on which other items a case holds. `--check` retrains and reports how far the result is
from the shipped file instead of writing it (BLAS builds may differ in the last bits; the shipped
file is the reference, and its SHA-256 is part of every pair cache key).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from verify.features import extract_features_from_file  # noqa: E402
from verify.geometry import VOCABULARY_PATH  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SAMPLE = 60_000
WORDS = 64
SEED = 0


def training_photos() -> list[Path]:
    photos = sorted(
        p
        for folder in ("sites", "sequence", "exif/gps")
        for p in (DATA / folder).rglob("*")
        if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    orientation = DATA / "exif" / "orientation"
    photos += [orientation / "landscape_1.jpg", orientation / "portrait_1.jpg"]
    return photos


def train() -> np.ndarray:
    photos = training_photos()
    descriptors = np.concatenate(
        [extract_features_from_file(p).descriptors for p in photos]
    ).astype(np.float32)
    rng = np.random.default_rng(SEED)
    sample = descriptors[rng.choice(len(descriptors), min(SAMPLE, len(descriptors)), replace=False)]
    print(f"{len(photos)} photos, {len(descriptors)} descriptors, {len(sample)} drawn")
    faiss.omp_set_num_threads(1)
    kmeans = faiss.Kmeans(sample.shape[1], WORDS, niter=20, seed=SEED, verbose=False)
    kmeans.train(np.ascontiguousarray(sample))
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    words = train()
    if args.check:
        shipped = np.load(VOCABULARY_PATH)
        print(f"max |difference| from the shipped vocabulary: {np.abs(words - shipped).max():.2e}")
        return
    VOCABULARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.save(VOCABULARY_PATH, words)
    print(f"wrote {VOCABULARY_PATH}")


if __name__ == "__main__":
    main()
