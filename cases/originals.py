"""Originals re-hashed before they are analysed, and how analysis messages name them.

An original is stored under its SHA-256 and never changed by the tool, but the disk it lives on
can still lose or alter it. Analysing such a file would record findings about bytes the item no
longer has, under a hash they do not match; so `verify` re-hashes each original it reads (once
per run: streaming a file costs little next to decoding it) and gives every check an
inconclusive finding for an item whose original is missing or altered, never a silent analysis.
Evidence is never repaired or deleted here: `claimcheck fsck` reports the store as a whole.

Messages from `verify/` name the file they read; for a stored original that is a blob path,
which means nothing to an investigator and whose last part is a clipped hash. `naming` rewrites
them to the item's code (or its original file name at ingest, before the item has a code).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evidence_store.blobs import BlobStore
from verify.errors import VerifyError


@dataclass(frozen=True)
class DamagedOriginal:
    """An item whose stored original no longer matches its SHA-256."""

    item: str
    filename: str
    sha256: str
    problem: str  # as `BlobStore.verify` words it: "missing", "content hashes to ...", ...

    @property
    def state(self) -> str:
        """One of missing, altered or unreadable (for findings' values)."""
        if self.problem == "missing":
            return "missing"
        return "altered" if self.problem.startswith("content hashes to ") else "unreadable"

    @property
    def reason(self) -> str:
        if self.problem == "missing":
            return "the stored file is missing"
        if self.problem.startswith("content hashes to "):
            actual = self.problem.removeprefix("content hashes to ").split(",")[0]
            return f"the stored file now hashes to {actual}"
        return f"the stored file is {self.problem}"

    @property
    def detail(self) -> str:
        return (
            f"original {self.item} ({self.filename}) no longer matches its SHA-256 "
            f"{self.sha256}: {self.reason}. It was not analysed (inconclusive); run "
            "`claimcheck fsck`."
        )


class OriginalsCheck:
    """Re-hashes originals, each SHA-256 at most once per instance (one per verify run)."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._problems: dict[str, str | None] = {}

    def problem(self, sha256: str) -> str | None:
        """None when the original is intact, else what is wrong with it."""
        if sha256 not in self._problems:
            self._problems[sha256] = self._blobs.verify(sha256)
        return self._problems[sha256]

    def intact(self, sha256: str) -> bool:
        return self.problem(sha256) is None

    def damaged(
        self, items: Iterable[ItemView], on_item: Callable[[], None] | None = None
    ) -> list[DamagedOriginal]:
        """The items among `items` whose originals are missing or altered, in the given order.
        `on_item()` is called after each item (re-hashing large videos takes long)."""
        out = []
        for item in items:
            problem = self.problem(item.sha256)
            if problem is not None:
                out.append(DamagedOriginal(item.code, item.filename, item.sha256, problem))
            if on_item is not None:
                on_item()
        return out

    @property
    def hashed(self) -> int:
        """How many distinct originals have been re-hashed."""
        return len(self._problems)


class ItemView(Protocol):
    """What `OriginalsCheck.damaged` needs of an item (ItemInfo and EvidenceItem both fit)."""

    @property
    def code(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def sha256(self) -> str: ...


def relabel(text: str, path: Path, label: str) -> str:
    """`text` with every mention of the file at `path` (its full path or its bare file name,
    which for a blob is a clipped SHA-256) replaced by `label`. The name is replaced only as a
    whole word, so a full SHA-256 that ends with a blob's name is left intact."""
    text = text.replace(str(path), label)
    return re.sub(rf"(?<![\w.-]){re.escape(path.name)}(?![\w.-])", lambda _: label, text)


def recorded_problems(problems: Iterable[object], sha256: str, label: str) -> list[str]:
    """Problems recorded at ingest, for display: workspaces ingested before problems were
    named by file name recorded the blob's path (from wherever the workspace then was) or its
    file name, a clipped SHA-256; both are shown as `label`. The record itself is unchanged."""
    blob = re.compile(rf"(?<![\w.-])(?:[^\s'\"]*/)?{sha256[2:]}(?![\w.-])")
    return [blob.sub(lambda _: label, str(p)) for p in problems]


@contextlib.contextmanager
def naming(path: Path, label: str) -> Iterator[None]:
    """Re-raise a `VerifyError` about `path` with `label` in place of the path in its message."""
    try:
        yield
    except VerifyError as exc:
        message = str(exc)
        renamed = relabel(message, path, label)
        if renamed == message:
            raise
        raise type(exc)(renamed) from exc
