"""Anchor votes of stored pictures searched as queries, kept in the derived store between runs.

A verify run searches every picture of the case against every stored picture; the first step of
each search counts, per stored picture, the query's anchors it shares (`cases.search`). On a
1,000-picture case that is ~65 ms a picture, i.e. most of a re-run that adds one item. Votes
depend only on the two pictures' anchors, so a query's votes are kept with the list of stored
pictures they were counted against (a manifest, shared by every query of that run); a later
search over a superset of those pictures counts votes against the new pictures only. Any other
change (pictures gone, a damaged or missing cache file) counts everything again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence

from evidence_store.db import Workspace
from evidence_store.errors import BlobError, StoreUnavailableError
from verify.samepicture import ANCHOR_SET

VOTES_NAMESPACE = "anchor-votes"
_MANIFEST_NAME = "frames.json"
# Names the anchor definition in every file: votes counted under another one are not reused.
_SETTINGS = hashlib.sha256(ANCHOR_SET.encode()).hexdigest()[:16]

# Votes against every stored picture, or against the given positions only.
CountAll = Callable[[], Counter[int]]
CountSome = Callable[[Sequence[int]], Counter[int]]


class VoteStore:
    """Votes per query picture (SHA-256 and frame) and orientation, for one index of stored
    pictures whose keys (`"ITEM:frame"`, in index order; one file stored as two items is two
    pictures of the index) are given to `bind`."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._keys: list[str] = []
        self._position: dict[str, int] = {}
        self._digest = ""
        # Per earlier manifest: the positions of pictures it did not have (None: not a subset).
        self._new_since: dict[str, list[int] | None] = {}

    def bind(self, keys: Sequence[str]) -> None:
        """The stored pictures of the index being searched, in index order."""
        self._keys = list(keys)
        self._position = {k: i for i, k in enumerate(self._keys)}
        self._digest = hashlib.sha256("\n".join(self._keys).encode()).hexdigest()
        self._new_since = {self._digest: []}
        if self._ws.read_only or self._read(self._digest, _MANIFEST_NAME) is not None:
            return
        self._write(self._digest, _MANIFEST_NAME, json.dumps(self._keys))

    def votes(
        self, sha256: str, frame_index: int, which: str, count_all: CountAll, count_some: CountSome
    ) -> Counter[int]:
        """The query's votes by index position: read back, completed with `count_some` for
        pictures stored since, or counted with `count_all`."""
        name = f"{_SETTINGS}-{which}-{frame_index:08d}.json"
        cached = self._load(sha256, name)
        if cached is not None:
            manifest, by_key = cached
            new = self._new_positions(manifest)
            if new is not None and all(k in self._position for k in by_key):
                found = Counter({self._position[k]: n for k, n in by_key.items()})
                if new:
                    found.update(count_some(new))
                    self._save(sha256, name, found)
                return found
        found = count_all()
        self._save(sha256, name, found)
        return found

    def _new_positions(self, manifest: str) -> list[int] | None:
        if manifest not in self._new_since:
            data = self._read(manifest, _MANIFEST_NAME)
            earlier: object = None
            with contextlib.suppress(ValueError):
                earlier = json.loads(data) if data is not None else None
            if not isinstance(earlier, list) or not set(earlier) <= self._position.keys():
                self._new_since[manifest] = None
            else:
                had = set(earlier)
                self._new_since[manifest] = [i for i, k in enumerate(self._keys) if k not in had]
        return self._new_since[manifest]

    def _load(self, sha256: str, name: str) -> tuple[str, dict[str, int]] | None:
        data = self._read(sha256, name)
        try:
            raw = json.loads(data) if data is not None else None
        except ValueError:
            return None  # damaged: counted again and rewritten
        if not isinstance(raw, dict) or not isinstance(raw.get("manifest"), str):
            return None
        votes = raw.get("votes")
        if not isinstance(votes, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in votes.values()
        ):
            return None
        return raw["manifest"], votes

    def _save(self, sha256: str, name: str, found: Counter[int]) -> None:
        if self._ws.read_only:
            return
        votes = {self._keys[i]: n for i, n in sorted(found.items()) if n > 0}
        self._write(sha256, name, json.dumps({"manifest": self._digest, "votes": votes}))

    def _read(self, key: str, name: str) -> bytes | None:
        return self._ws.derived.read(VOTES_NAMESPACE, key, name)

    def _write(self, key: str, name: str, text: str) -> None:
        # The cache only saves time: if it cannot be written, the next run counts again.
        with contextlib.suppress(BlobError, StoreUnavailableError):
            self._ws.derived.write(VOTES_NAMESPACE, key, name, text.encode())
