"""Exact Hamming-distance search over stored perceptual hashes.

Small stores, and searches that multi-index hashing would not narrow much, are scanned by brute
force (faiss's exact binary scan, `verify.hamming`, about a nanosecond a pair). Large stores use
multi-index hashing (Norouzi et al., "Fast Search in Hamming Space with Multi-Index
Hashing", CVPR 2012): each hash is cut into 16-bit substrings, each with its own table; by the
pigeonhole principle every hash within distance r of the query agrees with it to within r // m bits
on at least one of the m substrings, so probing each table with all substrings that close yields
every true neighbour, which are then checked exactly. Both paths return identical results.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import NamedTuple

import numpy as np

from verify.errors import InvalidValueError
from verify.hamming import BinaryScan, codes_from_words
from verify.hashing import (
    INDEX_SEARCH_RADII,
    HashKind,
    HashMatch,
    ImageHashes,
    PerceptualHash,
    compare,
)

_SUBSTRING_BITS = 16
_SUBSTRING_VALUES = 1 << _SUBSTRING_BITS
_SUBSTRINGS_PER_WORD = 64 // _SUBSTRING_BITS

# Below this many stored hashes brute force is as fast as multi-index hashing and needs no tables
# (benchmarks/bench_hash_search.py: 20,000 hashes scan in well under a millisecond).
BRUTE_FORCE_MAX_ITEMS = 20_000
# Multi-index hashing costs per candidate position its probes touch (a gather, XOR and popcount
# per word, and a sort: 30-70 ns on 1,000,000 stored hashes) plus a fixed start (~0.3 ms of
# probing); the faiss scan costs ~1-2.5 ns per (query, stored hash) pair. AUTO counts the
# positions the probes would really touch (real ORB anchors crowd some substrings: 144 of them
# against 150,000 stored touch ~5x the positions uniform hashes would) and scans by brute force
# when `_MIH_START_PAIRS + _MIH_PAIRS_PER_POSITION * positions` exceeds the pairs a scan scores.
# Measured on 2 shared cores (benchmarks/RESULTS.md, issue 4, sixth session).
_MIH_PAIRS_PER_POSITION = 33
_MIH_START_PAIRS = 200_000
# Multi-index search of many queries runs in passes over at most this many probes (table runs) and
# this many candidate positions (a run's stored hashes), so its temporaries stay at tens of MB
# however many queries come at once or however crowded the probed runs are.
_MIH_RUNS_PER_PASS = 1 << 20
_MIH_POSITIONS_PER_PASS = 1 << 20


class SearchMethod(StrEnum):
    """How `HashIndex.search` finds neighbours; AUTO picks by store size and radius."""

    AUTO = "auto"
    BRUTE_FORCE = "brute_force"
    MULTI_INDEX = "multi_index"


class IndexHit(NamedTuple):
    """One stored hash within the search radius: its key and its Hamming distance to the query."""

    key: str
    distance: int


@cache
def _masks_within(radius: int) -> np.ndarray:
    """Every 16-bit value with at most `radius` bits set (the probes around a substring)."""
    values = np.arange(_SUBSTRING_VALUES, dtype=np.uint32)
    counts = np.bitwise_count(values)
    return values[counts <= radius].astype(np.uint32)


@cache
def _probe_plan(n_substrings: int, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Which (substring, mask) pairs to probe for a search radius: (table index, XOR mask) arrays.

    The tighter pigeonhole bound of Norouzi et al. (section 3.1): with max_distance = m * r + a,
    a true neighbour is within r bits on one of the first a + 1 substrings or within r - 1 on
    one of the others (else its distance would be at least (a + 1)(r + 1) + (m - a - 1) r =
    max_distance + 1). At 256 bits and radius 40 this probes 1,352 substrings instead of 2,192.
    """
    r, a = divmod(max_distance, n_substrings)
    tables, masks = [], []
    for j in range(n_substrings):
        radius = r if j <= a else r - 1
        if radius < 0:
            continue
        within = _masks_within(radius)
        tables.append(np.full(len(within), j, dtype=np.int64))
        masks.append(within)
    return np.concatenate(tables), np.concatenate(masks)


@dataclass
class _MultiIndexTables:
    order: np.ndarray  # (m * n,) int32: entry ids sorted by substring value, table after table
    offsets: np.ndarray  # (m, 65537) int64: where each substring value's run starts, per table
    columns: np.ndarray  # (words, n) uint64: word j of every stored hash in row j, for gathers


@dataclass
class HashIndex:
    """Hashes of one bit length (64 or 256, or any multiple of 64) under opaque string keys.

    Keys need not be unique (an item's key may carry several hashes); every stored entry within
    the radius is returned.
    """

    bits: int
    _keys: list[str] = field(default_factory=list, init=False, repr=False)
    _chunks: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _words: np.ndarray | None = field(default=None, init=False, repr=False)
    _tables: _MultiIndexTables | None = field(default=None, init=False, repr=False)
    _scan: BinaryScan | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bits <= 0 or self.bits % 64:
            raise InvalidValueError(f"hash index bit length must be a multiple of 64: {self.bits}")
        self._words = np.zeros((0, self.n_words), dtype=np.uint64)

    @property
    def n_words(self) -> int:
        return self.bits // 64

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str, value: PerceptualHash | np.ndarray) -> None:
        """Store one hash under `key`."""
        self.add_many([key], self._query_words(value)[None, :])

    def add_many(self, keys: Sequence[str], words: np.ndarray) -> None:
        """Store many hashes at once: `words` is (len(keys), bits // 64) uint64, big-endian word
        order as `PerceptualHash.to_words` gives. A million hashes take well under a second."""
        arr = np.asarray(words)
        if arr.ndim == 1 and self.n_words == 1:
            arr = arr[:, None]
        if arr.dtype != np.uint64 or arr.ndim != 2 or arr.shape[1] != self.n_words:
            raise InvalidValueError(
                f"expected uint64 words of shape (n, {self.n_words}), got {arr.dtype} {arr.shape}"
            )
        if arr.shape[0] != len(keys):
            raise InvalidValueError(f"{len(keys)} keys for {arr.shape[0]} hashes")
        self._keys.extend(keys)
        self._chunks.append(np.ascontiguousarray(arr))
        self._tables = None
        self._scan = None

    def search(
        self,
        query: PerceptualHash | np.ndarray,
        max_distance: int,
        *,
        method: SearchMethod = SearchMethod.AUTO,
    ) -> list[IndexHit]:
        """Every stored hash within `max_distance` bits of `query`, nearest first (ties in the
        order they were added)."""
        if max_distance < 0:
            raise InvalidValueError(f"search radius must be >= 0, got {max_distance}")
        q = self._query_words(query)
        words = self._all_words()
        if len(words) == 0:
            return []
        return self.search_many(q[None, :], max_distance, method=method)[0]

    def search_many(
        self,
        queries: np.ndarray,
        max_distance: int,
        *,
        method: SearchMethod = SearchMethod.AUTO,
    ) -> list[list[IndexHit]]:
        """`search` for each row of `queries` ((k, bits // 64) uint64), with identical results,
        all queries at once: brute force scores them against the store in one vectorised pass;
        multi-index hashing probes the tables for all of them together (the 144 ORB anchors of
        one picture against 150,000 stored: 15 ms, 140 ms one query at a time; real anchors,
        whose substrings are uneven: 65 ms, 450 ms; benchmarks/bench_hash_search.py)."""
        if max_distance < 0:
            raise InvalidValueError(f"search radius must be >= 0, got {max_distance}")
        qs = np.asarray(queries)
        if qs.dtype != np.uint64 or qs.ndim != 2 or qs.shape[1] != self.n_words:
            raise InvalidValueError(
                f"expected uint64 words of shape (k, {self.n_words}), got {qs.dtype} {qs.shape}"
            )
        words = self._all_words()
        if len(words) == 0 or len(qs) == 0:
            return [[] for _ in range(len(qs))]
        if method is SearchMethod.AUTO:
            method = self._choose_method(max_distance, qs)
        if method is SearchMethod.MULTI_INDEX:
            return self._search_multi_index(words, qs, max_distance)
        return self._search_brute_force(words, qs, max_distance)

    def _choose_method(self, max_distance: int, queries: np.ndarray) -> SearchMethod:
        n = len(self)
        if n <= BRUTE_FORCE_MAX_ITEMS:
            return SearchMethod.BRUTE_FORCE
        tables = self._tables or self._build_tables(self._all_words())
        plan_tables, plan_masks = _probe_plan(self.bits // _SUBSTRING_BITS, max_distance)
        positions = _probe_positions(tables, queries, plan_tables, plan_masks)
        if _MIH_START_PAIRS + _MIH_PAIRS_PER_POSITION * positions > len(queries) * n:
            return SearchMethod.BRUTE_FORCE
        return SearchMethod.MULTI_INDEX

    def _search_brute_force(
        self, words: np.ndarray, queries: np.ndarray, max_distance: int
    ) -> list[list[IndexHit]]:
        if self._scan is None:
            self._scan = BinaryScan(codes_from_words(words))
        query, ids, dist = self._scan.within(codes_from_words(queries), max_distance)
        # Per query, nearest first, ties in the order added.
        order = np.lexsort((ids, dist, query))
        query, ids, dist = query[order], ids[order], dist[order]
        bounds = np.searchsorted(query, np.arange(len(queries) + 1))
        return [self._hits(ids[a:b], dist[a:b]) for a, b in itertools.pairwise(bounds.tolist())]

    def _hits(self, ids: np.ndarray, dist: np.ndarray) -> list[IndexHit]:
        keys = self._keys
        return [IndexHit(keys[i], d) for i, d in zip(ids.tolist(), dist.tolist(), strict=True)]

    def _query_words(self, value: PerceptualHash | np.ndarray) -> np.ndarray:
        if isinstance(value, PerceptualHash):
            if value.bits > self.bits:
                raise InvalidValueError(f"a {value.bits}-bit hash in a {self.bits}-bit index")
            words = value.to_words()
            return np.concatenate([np.zeros(self.n_words - len(words), np.uint64), words])
        arr = np.asarray(value)
        if arr.dtype != np.uint64 or arr.shape != (self.n_words,):
            raise InvalidValueError(
                f"expected {self.n_words} uint64 words, got {arr.dtype} {arr.shape}"
            )
        return arr

    def _all_words(self) -> np.ndarray:
        if self._chunks:
            self._words = np.concatenate([self._words, *self._chunks])
            self._chunks = []
        assert self._words is not None
        return self._words

    def _search_multi_index(
        self, words: np.ndarray, queries: np.ndarray, max_distance: int
    ) -> list[list[IndexHit]]:
        """Multi-index search of every row of `queries`, in passes of bounded size."""
        tables = self._tables or self._build_tables(words)
        n = len(words)
        plan_tables, plan_masks = _probe_plan(self.bits // _SUBSTRING_BITS, max_distance)
        # A hit is encoded as one int64 sort key, (query, distance, entry id) most significant
        # first, so one np.unique both drops candidates found through several substrings and puts
        # each query's hits nearest first, ties in the order added.
        key_span = (self.bits + 1) * n
        per_pass = max(1, min(_MIH_RUNS_PER_PASS // len(plan_masks), (1 << 62) // key_span))
        out: list[list[IndexHit]] = []
        for first in range(0, len(queries), per_pass):
            block = queries[first : first + per_pass]
            keys = _multi_index_hit_keys(tables, block, max_distance, plan_tables, plan_masks)
            keys = np.unique(keys)
            ids = keys % n
            dist = (keys // n) % (self.bits + 1)
            which = keys // key_span
            bounds = np.searchsorted(which, np.arange(len(block) + 1))
            for a, b in itertools.pairwise(bounds.tolist()):
                out.append(self._hits(ids[a:b], dist[a:b]))
        return out

    def _build_tables(self, words: np.ndarray) -> _MultiIndexTables:
        subs = _substrings(words)  # (n, m)
        n, m = subs.shape
        order = np.empty(m * n, dtype=np.int32)
        offsets = np.empty((m, _SUBSTRING_VALUES + 1), dtype=np.int64)
        for i in range(m):
            column = subs[:, i].astype(np.uint16)
            # A stable sort of 16-bit keys is a radix sort in numpy: linear time.
            order[i * n : (i + 1) * n] = np.argsort(column, kind="stable")
            offsets[i, 0] = 0
            np.cumsum(np.bincount(column, minlength=_SUBSTRING_VALUES), out=offsets[i, 1:])
        # Row j of `columns` is word j of every stored hash: gathering one word of many candidates
        # at a time keeps the popcount on flat uint64 arrays.
        self._tables = _MultiIndexTables(order, offsets, np.ascontiguousarray(words.T))
        return self._tables


def _substrings(words: np.ndarray) -> np.ndarray:
    """(n, words) uint64 -> (n, words * 4) 16-bit substrings, most significant first."""
    shifts = np.array(
        [64 - _SUBSTRING_BITS * (j + 1) for j in range(_SUBSTRINGS_PER_WORD)], dtype=np.uint64
    )
    parts = (words[:, :, None] >> shifts) & np.uint64(_SUBSTRING_VALUES - 1)
    return parts.reshape(len(words), words.shape[1] * _SUBSTRINGS_PER_WORD).astype(np.uint32)


def _multi_index_hit_keys(
    tables: _MultiIndexTables,
    queries: np.ndarray,
    max_distance: int,
    plan_tables: np.ndarray,
    plan_masks: np.ndarray,
) -> np.ndarray:
    """Every (query, stored hash) pair within `max_distance` that the probes find, as sort keys
    (query * (bits + 1) + distance) * n + entry id, duplicates included (a neighbour close on
    several substrings is found once per substring)."""
    columns = tables.columns
    n_words, n = columns.shape
    bits = 64 * n_words
    query_columns = np.ascontiguousarray(queries.T)
    probes = _substrings(queries)[:, plan_tables] ^ plan_masks  # (k, probes): one run each
    per_query = probes.shape[1]
    flat = plan_tables * (_SUBSTRING_VALUES + 1) + probes
    offsets = tables.offsets.ravel()
    starts = offsets[flat]
    lengths = (offsets[flat + 1] - starts).ravel()
    # Empty runs are kept (they expand to nothing): filtering them out costs more than they do.
    starts = (starts + plan_tables * n).ravel()
    ends = np.cumsum(lengths)
    if not len(ends) or ends[-1] == 0:
        return np.zeros(0, dtype=np.int64)
    found: list[np.ndarray] = []
    # Runs are expanded in passes of about _MIH_POSITIONS_PER_PASS positions (whole runs).
    cuts = np.searchsorted(ends, np.arange(0, int(ends[-1]), _MIH_POSITIONS_PER_PASS), "right")
    for a, b in itertools.pairwise([*cuts.tolist(), len(lengths)]):
        if a == b:
            continue
        run_len = lengths[a:b]
        positions = _expand_runs(starts[a:b], run_len)
        candidates = tables.order[positions]
        # Runs come query after query: repeat each query once per its positions in this pass.
        first, last = a // per_query, (b - 1) // per_query
        query_runs = np.arange(first + 1, last + 1) * per_query - a
        query = np.repeat(
            np.arange(first, last + 1), np.add.reduceat(run_len, np.r_[0, query_runs])
        )
        ids, dist = _distances_within(columns, query_columns, candidates, query, max_distance)
        found.append((query[ids] * (bits + 1) + dist) * n + candidates[ids])
    return np.concatenate(found)


def _probe_positions(
    tables: _MultiIndexTables,
    queries: np.ndarray,
    plan_tables: np.ndarray,
    plan_masks: np.ndarray,
) -> int:
    """How many stored positions multi-index hashing would examine for `queries`: the lengths of
    every run their probes hit, summed (one table lookup per probe, no candidate touched)."""
    flat = plan_tables * (_SUBSTRING_VALUES + 1) + (
        _substrings(queries)[:, plan_tables] ^ plan_masks
    )
    offsets = tables.offsets.ravel()
    return int((offsets[flat + 1] - offsets[flat]).sum())


def _expand_runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions of the runs [start, start + length) one after another, without a loop: a
    cumulative sum of steps of 1 with a jump where each run begins (four times faster than
    repeating each run's base and adding a range, on 2,000,000 positions in 195,000 runs)."""
    filled = np.flatnonzero(lengths)
    starts, lengths = starts[filled], lengths[filled]
    steps = np.ones(int(lengths.sum()), dtype=np.int64)
    steps[0] = starts[0]
    steps[np.cumsum(lengths[:-1])] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps)


def _distances_within(
    columns: np.ndarray,
    query_columns: np.ndarray,
    candidates: np.ndarray,
    query: np.ndarray,
    max_distance: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Which (query[i], candidates[i]) pairs are within `max_distance`, and their distances.

    The first half of the words is scored for every pair, the rest only for pairs still within
    the radius: a partial distance is a lower bound, and for an unrelated 256-bit pair the first
    128 bits alone exceed 40 in all but 1 case in 75,000 (for 144 anchors against 150,000
    stored, the distance step went from 16 to 7 ms)."""
    n_words = columns.shape[0]
    head = max(1, n_words // 2)
    dist = np.zeros(len(candidates), dtype=np.int64)
    for w in range(head):
        dist += np.bitwise_count(columns[w][candidates] ^ query_columns[w][query])
    live = np.flatnonzero(dist <= max_distance)
    dist = dist[live]
    if head < n_words:
        candidates, query = candidates[live], query[live]
        for w in range(head, n_words):
            dist += np.bitwise_count(columns[w][candidates] ^ query_columns[w][query])
        within = dist <= max_distance
        live, dist = live[within], dist[within]
    return live, dist


@dataclass(frozen=True)
class ImageMatch:
    """A stored picture that `compare` judges the same as the query."""

    key: str
    match: HashMatch


@dataclass
class ImageHashIndex:
    """Every hash of many pictures, searched with the same decision rule as `compare`.

    Candidates come from the PDQ and dHash indexes at `INDEX_SEARCH_RADII` (every match of
    `compare` lies within one of them), for the query, its mirror image and its version without
    edge bars, against stored pictures and their versions without bars; each candidate is then
    judged by `compare`, so a search returns exactly the stored pictures `compare` would match.
    """

    _keys: list[str] = field(default_factory=list, init=False, repr=False)
    _hashes: list[ImageHashes] = field(default_factory=list, init=False, repr=False)
    _pdq: HashIndex = field(default_factory=lambda: HashIndex(256), init=False, repr=False)
    _dhash: HashIndex = field(default_factory=lambda: HashIndex(64), init=False, repr=False)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str, hashes: ImageHashes) -> None:
        self.add_many([key], [hashes])

    def add_many(self, keys: Sequence[str], hashes: Sequence[ImageHashes]) -> None:
        if len(keys) != len(hashes):
            raise InvalidValueError(f"{len(keys)} keys for {len(hashes)} hash sets")
        first = len(self._keys)
        ids = [str(first + i) for i in range(len(keys))]
        self._keys.extend(keys)
        self._hashes.extend(hashes)
        if not hashes:
            return
        # A picture's version without edge bars is indexed under the same id, so candidates for
        # every comparison `compare` makes are found.
        variants = [(i, h) for i, h in zip(ids, hashes, strict=True)]
        variants += [(i, h.without_bars) for i, h in variants if h.without_bars is not None]
        self._pdq.add_many(
            [i for i, _ in variants], np.stack([h.pdq.to_words() for _, h in variants])
        )
        self._dhash.add_many(
            [i for i, _ in variants], np.stack([h.dhash.to_words() for _, h in variants])
        )

    def find_matches(self, query: ImageHashes) -> list[ImageMatch]:
        """Stored pictures that are the same picture as `query`, closest first."""
        found = self.find_near(
            query, INDEX_SEARCH_RADII[HashKind.PDQ], INDEX_SEARCH_RADII[HashKind.DHASH]
        )
        return [m for m in found if m.match.is_match]

    def find_near(self, query: ImageHashes, pdq_radius: int, dhash_radius: int) -> list[ImageMatch]:
        """`compare` of `query` with every stored picture whose PDQ or dHash (of either
        orientation, with or without edge bars) is within the radii, matching or not, closest
        first. The candidates a second, pixel-level stage may confirm."""
        candidates: set[int] = set()
        variants = [query] if query.without_bars is None else [query, query.without_bars]
        for q in variants:
            for value in (q.pdq, q.pdq_mirrored):
                candidates.update(int(h.key) for h in self._pdq.search(value, pdq_radius))
            for value in (q.dhash, q.dhash_mirrored):
                candidates.update(int(h.key) for h in self._dhash.search(value, dhash_radius))
        found = []
        for i in sorted(candidates):
            match = compare(query, self._hashes[i])
            found.append((not match.is_match, match.distances.pdq, match.distances.phash, i, match))
        found.sort(key=lambda row: row[:4])
        return [ImageMatch(self._keys[i], match) for *_, i, match in found]


def words_from_hex(hex_values: Sequence[str], bits: int) -> np.ndarray:
    """Hex hashes (as stored in the database) to the (n, bits // 64) uint64 array `add_many`
    takes, without building a Python object per hash."""
    n_words = bits // 64
    width = math.ceil(bits / 4)
    if any(len(h) > width for h in hex_values):
        raise InvalidValueError(f"a hash longer than {bits} bits")
    try:
        raw = bytes.fromhex("".join(h.rjust(n_words * 16, "0") for h in hex_values))
    except ValueError as exc:
        raise InvalidValueError(f"a stored hash is not hex: {exc}") from exc
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hex_values), n_words)
