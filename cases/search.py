"""Finding the same picture again across every stored item: `claimcheck search` and the
recycled-footage and duplicate checks share this.

Every stored frame (a photo, or one keyframe of a video) goes into one `ImageHashIndex`, built
once per call; each query picture is then a few index probes plus `compare` on the candidates,
so many queries cost little more than hashing them. A match here is exactly a match of
`verify.hashing.compare`, the decision rule every check uses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cases.analysis import (
    ANCHOR_SET_KEY,
    ANCHORS_KEY,
    PICTURE_FEATURES_NAMESPACE,
)
from cases.anchor_votes import VoteStore
from cases.errors import InputError
from cases.originals import OriginalsCheck
from cases.snapshot import ItemInfo, item_info
from cases.stored_pictures import stored_features
from cases.workflow import load_case
from evidence_store.db import Workspace
from evidence_store.errors import BlobError, SourceFileError, StoreUnavailableError
from evidence_store.models import EvidenceItem, ItemLink
from verify.errors import (
    InvalidValueError,
    UnsupportedMediaError,
    VerifyError,
)
from verify.hashindex import HashIndex, ImageHashIndex, words_from_hex
from verify.hashing import (
    HASH_WORKING_SIDE,
    HashMatch,
    ImageHashes,
    compare,
    hash_file,
    hash_image,
)
from verify.keyframes import extract_keyframes
from verify.media import (
    IMAGE_TYPES,
    VIDEO_TYPES,
    load_image,
    load_image_sizes,
    sniff_media_type,
)
from verify.samepicture import (
    ALIGNMENT_SETTINGS,
    ANCHOR_RADIUS,
    ANCHOR_SET,
    CONFIRM_SIDE,
    MAX_ALIGNMENTS_PER_QUERY,
    MIN_ANCHOR_VOTES,
    MIN_ANCHOR_VOTES_NEAR,
    NEAR_RADII,
    PictureAlignment,
    PictureFeatures,
    align_pictures,
    alignment_from_dict,
    alignment_to_dict,
    anchor_descriptors,
    anchor_words,
    in_near_band,
)


@dataclass(frozen=True)
class StoredFrame:
    """One stored picture: the item it belongs to, and where in it (time None for a photo)."""

    item: ItemInfo
    frame_index: int
    time_s: float | None
    hashes: ImageHashes


@dataclass(frozen=True)
class FrameMatch:
    """A stored frame judged the same picture as a query picture: by its hashes, or (when the
    hashes were only near) by pixel alignment, which `alignment` then describes."""

    frame: StoredFrame
    match: HashMatch
    alignment: PictureAlignment | None = None


# A picture prepared for the second stage, or None when its pixels are unavailable.
Pixels = Callable[[], PictureFeatures | None]
PixelLoader = Callable[[StoredFrame], PictureFeatures | None]
# A stored frame's anchors under the current definition, or None when they cannot be made.
AnchorLoader = Callable[[StoredFrame], np.ndarray | None]

# Aligns a stored picture (`theirs`, the candidate frame) with the query (`mine`; the query's
# stored frame, if it is one) in the given orientation: `align_pictures`, here or elsewhere.
# Raises VerifyError when a picture's pixels cannot be had.
Aligner = Callable[
    [StoredFrame | None, StoredFrame, PictureFeatures, PictureFeatures, bool], PictureAlignment
]


def align_in_process(
    query_frame: StoredFrame | None,
    frame: StoredFrame,
    theirs: PictureFeatures,
    mine: PictureFeatures,
    flip: bool,
) -> PictureAlignment:
    return align_pictures(theirs, mine, mirrored=flip)


@dataclass(frozen=True)
class Candidates:
    """A query's first stage (`FrameIndex.candidates`): the stored frames its hashes match, the
    stored frames to align with it (index position, hash match, mirrored?), in order and at most
    MAX_ALIGNMENTS_PER_QUERY, and its prepared picture (None: no pixels, nothing to align)."""

    found: list[FrameMatch]
    to_align: list[tuple[int, HashMatch, bool]]
    mine: PictureFeatures | None


class AlignmentCache(Protocol):
    """What `FrameIndex.confirm` needs of an `AlignmentStore`."""

    def load(self, sha256: str, frame_index: int) -> dict[str, PictureAlignment]: ...

    def reverse(
        self, query: StoredFrame, candidate: StoredFrame, mirrored: bool
    ) -> PictureAlignment | None: ...

    def save(self, sha256: str, frame_index: int, found: dict[str, PictureAlignment]) -> None: ...


# Derived-store namespace of pixel alignments between stored pictures, one file per query frame.
ALIGNMENTS_NAMESPACE = "alignments"


class AlignmentStore:
    """Pixel alignments already made between two stored pictures, kept in the derived store so
    that a verify run re-run after adding one item aligns only the pairs it has not seen. Keyed
    by both pictures' SHA-256 and frame, the orientation tried, and `ALIGNMENT_SETTINGS`: the
    same two pictures under the same settings always align the same way. With `originals`, an
    entry involving an original that no longer matches its SHA-256 is not used (its pixels are
    not examined either)."""

    def __init__(self, ws: Workspace, originals: OriginalsCheck | None = None) -> None:
        self._ws = ws
        self._originals = originals
        # Files read or written in this run, by (SHA-256, frame): read once each.
        self._files: dict[tuple[str, int], dict[str, PictureAlignment]] = {}

    def load(self, sha256: str, frame_index: int) -> dict[str, PictureAlignment]:
        """Alignments made with this stored frame as the query, by `pair_key`."""
        if (sha256, frame_index) not in self._files:
            self._files[sha256, frame_index] = self._read(sha256, frame_index)
        return self._files[sha256, frame_index]

    def reverse(
        self, query: StoredFrame, candidate: StoredFrame, mirrored: bool
    ) -> PictureAlignment | None:
        """The alignment of `query` with `candidate` as the query (made when `candidate` was
        searched), described from `query`'s side, if one was made.

        The pixel check's question, "are these the same picture", does not depend on which of
        two stored pictures is searched: a pair aligned when one was the query is not aligned
        again when the other is (half the alignments of a case searched against itself)."""
        found = self.load(candidate.item.sha256, candidate.frame_index).get(
            pair_key(query, mirrored)
        )
        return None if found is None else _inverse(found)

    def _read(self, sha256: str, frame_index: int) -> dict[str, PictureAlignment]:
        if not self._usable(sha256):
            return {}
        data = self._ws.derived.read(ALIGNMENTS_NAMESPACE, sha256, _alignments_name(frame_index))
        try:
            raw = json.loads(data) if data is not None else {}
        except ValueError:
            return {}  # a damaged cache entry: the pairs are aligned again and it is rewritten
        out: dict[str, PictureAlignment] = {}
        if not isinstance(raw, dict):
            return out
        for key, value in raw.items():
            if not isinstance(value, dict) or not self._usable(key.split(":", 1)[0]):
                continue
            with contextlib.suppress(InvalidValueError):
                out[key] = alignment_from_dict(value)
        return out

    def save(self, sha256: str, frame_index: int, found: dict[str, PictureAlignment]) -> None:
        self._files[sha256, frame_index] = found
        if self._ws.read_only:
            return
        data = json.dumps({k: alignment_to_dict(v) for k, v in sorted(found.items())})
        # The cache only saves time: if it cannot be written, the next run aligns again.
        with contextlib.suppress(BlobError, StoreUnavailableError):
            self._ws.derived.write(
                ALIGNMENTS_NAMESPACE, sha256, _alignments_name(frame_index), data.encode()
            )

    def _usable(self, sha256: str) -> bool:
        return self._originals is None or self._originals.intact(sha256)


def pair_key(frame: StoredFrame, mirrored: bool) -> str:
    """Key of an alignment of `frame` with a query frame, in `AlignmentStore` files."""
    return f"{frame.item.sha256}:{frame.frame_index}:{int(mirrored)}"


def _inverse(a: PictureAlignment) -> PictureAlignment:
    """`a` seen from the other picture: the similarity inverted. Reflection conjugates a
    rotation to its opposite, so a mirrored fit keeps its angle and a direct one negates it."""
    return dataclasses.replace(
        a,
        scale=1.0 / a.scale if a.scale else 0.0,
        rotation_deg=a.rotation_deg if a.mirrored else -a.rotation_deg,
    )


def _alignments_name(frame_index: int) -> str:
    return f"{ALIGNMENT_SETTINGS}-{frame_index:08d}.json"


class FrameIndex:
    """The frames of many items, searched with the two-stage rule: `compare` on the hashes; then
    pixel alignment of the query with each stored picture whose hashes are near
    (`verify.samepicture.NEAR_RADII`) and that shares an ORB anchor with it, or that shares
    enough anchors whatever its hashes (crops too large for any whole-picture hash), when both
    pictures' pixels can be had."""

    def __init__(
        self,
        items: Iterable[ItemInfo],
        pixels: PixelLoader | None = None,
        anchors: AnchorLoader | None = None,
        alignments: AlignmentStore | None = None,
        votes: VoteStore | None = None,
    ) -> None:
        """`anchors` gives the current anchors of frames stored under another anchor definition
        (by default made from `pixels`); `alignments` and `votes` keep the alignments and anchor
        votes of queries that are themselves stored frames (`find(..., query_frame=...)`)
        across calls."""
        self.frames: list[StoredFrame] = []
        anchor_keys: list[str] = []
        anchor_hex: list[str] = []
        # Frames whose stored anchors were made under another anchor definition (an older
        # workspace): never compared across definitions, recomputed from their pixels instead.
        self._stale_anchors: list[int] = []
        for item in items:
            for f in item.frames:
                if f.hashes.get(ANCHOR_SET_KEY) == ANCHOR_SET:
                    current = f.hashes.get(ANCHORS_KEY) or []
                    anchor_keys += [str(len(self.frames))] * len(current)
                    anchor_hex += current
                else:
                    self._stale_anchors.append(len(self.frames))
                hashes = ImageHashes.from_dict(f.hashes)
                self.frames.append(StoredFrame(item, f.index, f.time_s, hashes))
        self.item_codes = {f.item.code for f in self.frames}
        self._pixels = pixels
        self._anchors_of = anchors
        self._alignments = alignments
        self._index = ImageHashIndex()
        keys = [str(i) for i in range(len(self.frames))]
        self._index.add_many(keys, [f.hashes for f in self.frames])
        self._anchors = HashIndex(256)
        # Every indexed anchor's frame position and words, to count votes against a subset.
        self._anchor_rows = np.array([int(k) for k in anchor_keys], np.int64)
        self._anchor_words = np.zeros((0, 4), np.uint64)
        if anchor_hex:
            self._anchor_words = words_from_hex(anchor_hex, 256)
            self._anchors.add_many(anchor_keys, self._anchor_words)
        self._votes = votes
        self._subsets: dict[tuple[int, ...], HashIndex] = {}
        if votes is not None:
            votes.bind([f"{f.item.code}:{f.frame_index}" for f in self.frames])

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def alignments(self) -> AlignmentStore | None:
        """Where alignments of stored queries are kept across calls (None: not kept)."""
        return self._alignments

    @property
    def has_pixels(self) -> bool:
        """Whether `find` aligns pixels (else it judges on hashes alone)."""
        return self._pixels is not None

    def find(
        self,
        query: ImageHashes,
        query_pixels: Pixels | None = None,
        *,
        query_frame: StoredFrame | None = None,
    ) -> list[FrameMatch]:
        """Stored frames that are the same picture as `query`, closest first. `query_frame`:
        the query is that stored frame, so its alignments can be cached."""
        if query_pixels is None or self._pixels is None:
            return [
                FrameMatch(self.frames[int(m.key)], m.match)
                for m in self._index.find_matches(query)
            ]
        candidates = self.candidates(query, query_pixels, query_frame=query_frame)
        return self.confirm(candidates, query_frame=query_frame)

    def candidates(
        self, query: ImageHashes, query_pixels: Pixels, *, query_frame: StoredFrame | None = None
    ) -> Candidates:
        """The first stage of `find` (with pixels): matches by hashes, and the stored pictures
        to align. It depends on the hashes and anchor votes only, never on an alignment, so a
        search of many queries can decide every query's pairs before aligning any
        (`cases.search_pool`)."""
        found: list[FrameMatch] = []
        near: dict[int, HashMatch] = {}
        for m in self._index.find_near(query, NEAR_RADII["pdq"], NEAR_RADII["dhash"]):
            i = int(m.key)
            if m.match.is_match:
                found.append(FrameMatch(self.frames[i], m.match))
            elif in_near_band(m.match.distances):
                near[i] = m.match
        mine = query_pixels()
        if mine is None:
            return Candidates(found, [], None)
        self._refresh_stale_anchors()
        votes = self._cached_votes(lambda: mine, query_frame, mirrored=False)
        flipped = sorted(i for i, hm in near.items() if hm.mirrored)
        mirrored_votes = votes
        # The mirror image's features are made only if its votes must be counted.
        if MIN_ANCHOR_VOTES_NEAR > 0 and flipped:
            if self._votes is None or query_frame is None:
                # Only the near pairs closer mirrored read these votes: counted against their
                # pictures' anchors alone: the same counts for a fraction of the scan (one
                # query against the 12,240 anchors of bench_search_files.py's 85 photos: 1.9 ms,
                # against 159,120: 25 ms, against five pictures': 0.5 ms; benchmarks/RESULTS.md).
                subset = self._anchor_index(flipped)
                mirrored_votes = self._anchor_votes(mine.mirror(), subset)
            else:
                # Kept for later runs, which may read them for other pictures: every picture.
                mirrored_votes = self._cached_votes(mine.mirror, query_frame, mirrored=True)
        # What to align, and in which orientation: near-hash pairs sharing an anchor (counted
        # with the mirror image's anchors when the hashes are closer mirrored), closest first;
        # then pairs sharing enough anchors as they are, most shared first.
        to_align: dict[int, tuple[HashMatch, bool]] = {}
        for i, hm in near.items():
            if (mirrored_votes if hm.mirrored else votes)[i] >= MIN_ANCHOR_VOTES_NEAR:
                to_align[i] = (hm, hm.mirrored)
        matched = {id(f.frame) for f in found}
        for i, n in votes.most_common():
            if n >= MIN_ANCHOR_VOTES and i not in to_align and id(self.frames[i]) not in matched:
                to_align[i] = (near.get(i) or compare(query, self.frames[i].hashes), False)
        pairs = [(i, m, flip) for i, (m, flip) in to_align.items()]
        return Candidates(found, pairs[:MAX_ALIGNMENTS_PER_QUERY], mine)

    def confirm(
        self,
        candidates: Candidates,
        *,
        query_frame: StoredFrame | None = None,
        store: AlignmentCache | None = None,
        align: Aligner | None = None,
    ) -> list[FrameMatch]:
        """The second stage of `find`: `candidates.found` plus the pictures to align that
        align. Alignments come from `store` (by default this index's `AlignmentStore`, for a
        stored query), made with the other picture as the query (reused inverted), or by
        `align` (by default `align_pictures` in this process); new ones are saved in `store`."""
        found = list(candidates.found)
        mine = candidates.mine
        if mine is None:
            return found
        assert self._pixels is not None
        if query_frame is None:
            store = None
        elif store is None:
            store = self._alignments
        align = align or align_in_process
        known: dict[str, PictureAlignment] = {}
        if store is not None and query_frame is not None:
            known = store.load(query_frame.item.sha256, query_frame.frame_index)
        made = 0
        for i, match, flip in candidates.to_align:
            theirs = self._pixels(self.frames[i])
            if theirs is None:
                continue
            key = pair_key(self.frames[i], flip)
            alignment = known.get(key)
            if alignment is None and store is not None and query_frame is not None:
                alignment = store.reverse(query_frame, self.frames[i], flip)
            if alignment is None:
                try:
                    alignment = align(query_frame, self.frames[i], theirs, mine, flip)
                except VerifyError:
                    # The stored picture's pixels were lost after its features were cached:
                    # the pair is judged on its hashes alone, like any pair without pixels.
                    continue
                known[key] = alignment
                made += 1
            if alignment.is_same:
                found.append(FrameMatch(self.frames[i], match, alignment))
        if store is not None and query_frame is not None and made:
            store.save(query_frame.item.sha256, query_frame.frame_index, known)
        return found

    def _refresh_stale_anchors(self) -> None:
        """Index anchors, under the current definition, of frames stored with another one."""
        keys: list[str] = []
        words: list[np.ndarray] = []
        pixels = self._pixels
        assert pixels is not None
        anchors_of = self._anchors_of or functools.partial(_anchors_from_pixels, pixels)
        for i in self._stale_anchors:
            anchors = anchors_of(self.frames[i])
            if anchors is None or not len(anchors):
                continue
            keys += [str(i)] * len(anchors)
            words.append(anchor_words(anchors))
        self._stale_anchors = []
        if keys:
            added = np.concatenate(words)
            self._anchors.add_many(keys, added)
            rows = np.array([int(k) for k in keys], np.int64)
            self._anchor_rows = np.concatenate([self._anchor_rows, rows])
            self._anchor_words = np.concatenate([self._anchor_words, added])

    def _cached_votes(
        self,
        picture: Callable[[], PictureFeatures],
        query_frame: StoredFrame | None,
        *,
        mirrored: bool,
    ) -> Counter[int]:
        if self._votes is None or query_frame is None:
            return self._anchor_votes(picture(), self._anchors)
        return self._votes.votes(
            query_frame.item.sha256,
            query_frame.frame_index,
            "mirrored" if mirrored else "direct",
            lambda: self._anchor_votes(picture(), self._anchors),
            lambda positions: self._anchor_votes(picture(), self._anchors_of_frames(positions)),
        )

    def _anchors_of_frames(self, positions: Sequence[int]) -> HashIndex:
        """An index of the anchors of the frames at `positions` only (every old query of a
        re-run asks for the same new frames: built once)."""
        key = tuple(positions)
        index = self._subsets.get(key)
        if index is None:
            index = self._subsets[key] = self._anchor_index(positions)
        return index

    def _anchor_index(self, positions: Sequence[int]) -> HashIndex:
        """A new index of the anchors of the frames at `positions` only."""
        keep = np.isin(self._anchor_rows, np.asarray(positions, np.int64))
        index = HashIndex(256)
        if keep.any():
            keys = [str(p) for p in self._anchor_rows[keep]]
            index.add_many(keys, self._anchor_words[keep])
        return index

    @staticmethod
    def _anchor_votes(mine: PictureFeatures, anchors: HashIndex) -> Counter[int]:
        """Per stored frame, how many of the query's anchors it shares (within ANCHOR_RADIUS)."""
        votes: Counter[int] = Counter()
        if not len(anchors):
            return votes
        mine_words = anchor_words(anchor_descriptors(mine))
        for hits in anchors.search_many(mine_words, ANCHOR_RADIUS):
            votes.update({int(h.key) for h in hits})
        return votes


def workspace_pixels(ws: Workspace, originals: OriginalsCheck | None = None) -> PixelLoader:
    """Stored frames prepared for the pixel check: their ORB features from the derived store
    (made and cached there on first use), their pixels (a photo's original, a keyframe's
    thumbnail) loaded only if a pair reaches the pixel comparison. None when the picture cannot
    be had: the pair is then judged on hashes alone. With `originals`, a photo's original is
    re-hashed before its pixels are read, and one that no longer matches its SHA-256 counts as
    a picture that cannot be had."""

    @functools.lru_cache(maxsize=1024)
    def load(sha256: str, kind: str, frame_index: int) -> PictureFeatures | None:
        return stored_features(
            ws.blobs, ws.derived, originals, sha256, kind, frame_index, write=not ws.read_only
        )

    return lambda frame: load(frame.item.sha256, frame.item.kind, frame.frame_index)


def _anchors_from_pixels(pixels: PixelLoader, frame: StoredFrame) -> np.ndarray | None:
    features = pixels(frame)
    if features is None:
        return None
    try:
        return anchor_descriptors(features)
    except VerifyError:
        return None  # its pixels were lost after its features were cached


def workspace_anchors(ws: Workspace, pixels: PixelLoader) -> AnchorLoader:
    """Current anchors of frames stored under an older anchor definition: cached in the derived
    store under the definition's name, so an older workspace pays for them once, not per call."""

    def load(frame: StoredFrame) -> np.ndarray | None:
        sha256, name = frame.item.sha256, f"{ANCHOR_SET}-{frame.frame_index:08d}.anchors"
        data = ws.derived.read(PICTURE_FEATURES_NAMESPACE, sha256, name)
        if data is not None and len(data) % 32 == 0:
            return np.frombuffer(data, np.uint8).reshape(-1, 32)
        anchors = _anchors_from_pixels(pixels, frame)
        if anchors is not None and not ws.read_only:
            # The cache only saves time: if it cannot be written, the next call recomputes.
            with contextlib.suppress(BlobError, StoreUnavailableError):
                ws.derived.write(PICTURE_FEATURES_NAMESPACE, sha256, name, anchors.tobytes())
        return anchors

    return load


def stored_queries(item: ItemInfo, pixels: PixelLoader) -> list[QueryPicture]:
    """A stored item's own frames as query pictures (for checks that search the store)."""
    queries = []
    for f in item.frames:
        frame = StoredFrame(item, f.index, f.time_s, ImageHashes.from_dict(f.hashes))
        queries.append(
            QueryPicture(f.time_s, frame.hashes, functools.partial(pixels, frame), frame)
        )
    return queries


def file_pixels(path: Path) -> Pixels:
    """Lazy pixels of a photo file for the second stage (None when it cannot be decoded)."""

    @functools.cache
    def load() -> PictureFeatures | None:
        try:
            return PictureFeatures(load_image(path, max_side=CONFIRM_SIDE))
        except VerifyError:
            return None

    return load


def stored_items(ws: Workspace, case_code: str | None = None) -> list[ItemInfo]:
    """Every stored item (of one case, if given) with its frames, as plain data."""
    with ws.reading() as session:
        query = select(EvidenceItem).options(
            selectinload(EvidenceItem.links).selectinload(ItemLink.site),
            selectinload(EvidenceItem.case),
            selectinload(EvidenceItem.frames),
        )
        if case_code is not None:
            query = query.where(EvidenceItem.case_id == load_case(session, case_code).id)
        return [item_info(ws, row) for row in session.scalars(query.order_by(EvidenceItem.id))]


@dataclass(frozen=True)
class QueryPicture:
    """One picture of a query file: the photo itself, or one keyframe (time in seconds)."""

    time_s: float | None
    hashes: ImageHashes
    pixels: Pixels | None = None
    # The stored frame this query is, when it is one (checks search the store with its own
    # frames): its alignments are then cached (`AlignmentStore`).
    frame: StoredFrame | None = None


def query_pictures(path: Path) -> list[QueryPicture]:
    """The pictures a query file stands for: a photo's own hashes, or a video's keyframes."""
    media_type = _query_media_type(path)
    if media_type in VIDEO_TYPES:
        return [
            QueryPicture(k.time, k.hashes, _lazy_features(k.image)) for k in extract_keyframes(path)
        ]
    return [_photo_query(path)]


def _photo_query(path: Path) -> QueryPicture:
    """A photo's hashes and lazy pixels: from one decode when its hashes and the pixel check
    decode it alike (`load_image_sizes`), else from one decode each."""
    both = load_image_sizes(path, HASH_WORKING_SIDE, CONFIRM_SIDE)
    if both is None:
        return QueryPicture(None, hash_file(path), file_pixels(path))
    small, working = both

    @functools.cache
    def pixels() -> PictureFeatures | None:
        try:
            return PictureFeatures(working)
        except VerifyError:
            return None

    return QueryPicture(None, hash_image(small), pixels)


def _lazy_features(image: np.ndarray) -> Pixels:
    return functools.cache(functools.partial(PictureFeatures, image))


def _query_media_type(path: Path) -> str:
    if not path.exists():
        raise SourceFileError(f"file not found: {path}")
    if not path.is_file():
        raise SourceFileError(f"not a regular file: {path}")
    try:
        media_type = sniff_media_type(path)
    except OSError as exc:
        raise SourceFileError(f"cannot read file {path}: {exc.strerror or exc}") from exc
    if media_type not in IMAGE_TYPES and media_type not in VIDEO_TYPES:
        raise UnsupportedMediaError(
            f"{path} is neither a photo nor a video (its content is {media_type})"
        )
    return media_type


@dataclass(frozen=True)
class SearchMatch:
    """A stored item (and moment, for a video) that is the same picture as the query."""

    item: str
    case: str
    sha256: str
    distances: dict[str, int]
    time_s: float | None
    query_time_s: float | None
    mirrored: bool
    # Set when the hashes were only near and pixel alignment confirmed the match.
    alignment: PictureAlignment | None = None

    def as_dict(self) -> dict[str, Any]:
        """The public JSON form of `claimcheck search`. Other tools read it: the issue's keys
        (item, case, sha256, distance, time) never change; later keys are only added.

        `mirrored`: the stored picture is this one flipped left-right (a common evasion);
        `query_time`: the query video's moment that matched (null for a photo);
        `confirmed_by`: "hashes", or "pixel_alignment" when the hashes were only near (crops,
        rotations) and `alignment` holds the measurements that decided it.
        """
        return {
            "item": self.item,
            "case": self.case,
            "sha256": self.sha256,
            "distance": self.distances,
            "time": self.time_s,
            "query_time": self.query_time_s,
            "mirrored": self.mirrored,
            "confirmed_by": "hashes" if self.alignment is None else "pixel_alignment",
            "alignment": None if self.alignment is None else self.alignment.as_dict(),
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    matches: list[SearchMatch]

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "matches": [m.as_dict() for m in self.matches]}


def search_files(
    ws: Workspace,
    paths: Sequence[Path],
    *,
    case: str | None = None,
    on_progress: Callable[[], None] | None = None,
    on_refused: Callable[[InputError], None] | None = None,
) -> list[SearchResult]:
    """For each file, the stored items and video moments that are the same picture, best first.

    Every path is checked before any is hashed, so a typo fails at once. A file whose content
    cannot be read (found only once it is decoded) raises an InputError naming it; with
    `on_refused`, that error is handed to it instead and the other files are still searched.
    A stored moment found by several keyframes of a query video is reported once, at its
    closest distance.
    """
    if not paths:
        raise InputError("no files given")
    for path in paths:
        _query_media_type(path)
    pixels = workspace_pixels(ws, OriginalsCheck(ws.blobs))
    index = FrameIndex(stored_items(ws, case), pixels, workspace_anchors(ws, pixels))
    results = []
    for path in paths:
        try:
            pictures = query_pictures(path)
        except VerifyError as exc:
            # Among many query files, the one that cannot be read must be named.
            refused = InputError(f"cannot search {path}: {exc}")
            if on_refused is None:
                raise refused from exc
            on_refused(refused)
        else:
            results.append(SearchResult(str(path), match_pictures(index, pictures)))
        if on_progress is not None:
            on_progress()
    return results


def match_pictures(index: FrameIndex, pictures: Sequence[QueryPicture]) -> list[SearchMatch]:
    """Matches of any of `pictures`, one per stored moment, best first."""
    best: dict[tuple[str, int], tuple[tuple[int, int, int], SearchMatch]] = {}
    for picture in pictures:
        for found in index.find(picture.hashes, picture.pixels):
            frame, d = found.frame, found.match.distances
            rank = (d.pdq, d.phash, d.dhash)
            key = (frame.item.code, frame.frame_index)
            if key in best and best[key][0] <= rank:
                continue
            best[key] = (
                rank,
                SearchMatch(
                    item=frame.item.code,
                    case=frame.item.case,
                    sha256=frame.item.sha256,
                    distances=d.as_dict(),
                    time_s=frame.time_s,
                    query_time_s=picture.time_s,
                    mirrored=found.match.mirrored,
                    alignment=found.alignment,
                ),
            )
    ordered = sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))
    return [match for _, (_, match) in ordered]
