"""Content-addressed storage of originals, and a separate store of rebuildable derived files.

Originals live at `blobs/ab/cdef...` named by their SHA-256. A blob becomes visible under its
final name only when complete: bytes are copied to a temporary file in the same directory tree,
fsynced, made read-only, then hard-linked into place (which fails rather than overwrites if the
name exists, so two writers of the same content cannot clobber each other). A crash leaves at
most an orphan in `blobs/tmp/`, never a partial blob under a final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evidence_store.errors import BlobError, SourceFileError, StoreUnavailableError

_CHUNK = 1 << 20
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when identical bytes were already stored (deduplicated)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_error(exc: OSError, what: str) -> StoreUnavailableError:
    if exc.errno == errno.ENOSPC:
        return StoreUnavailableError(f"disk full while {what}; nothing was stored")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreUnavailableError(f"workspace is not writable while {what}: {exc.strerror}")
    return StoreUnavailableError(f"cannot write workspace while {what}: {exc.strerror or exc}")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class BlobStore:
    """Originals, stored once each by SHA-256, never modified after writing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path(self, sha256: str) -> Path:
        if not _SHA_RE.match(sha256):
            raise BlobError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_file(self, source: Path) -> StoredBlob:
        """Store a copy of `source`, hashing exactly the bytes copied."""
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed in finally below
        except FileNotFoundError as exc:
            raise SourceFileError(f"file not found: {source}") from exc
        except IsADirectoryError as exc:
            raise SourceFileError(f"is a directory, not a file: {source}") from exc
        except PermissionError as exc:
            raise SourceFileError(f"cannot read file (permission denied): {source}") from exc
        except OSError as exc:
            raise SourceFileError(f"cannot read file {source}: {exc.strerror}") from exc
        try:
            return self._put_stream(src, source)
        finally:
            src.close()

    def _put_stream(self, src: object, source: Path) -> StoredBlob:
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="incoming-")
        except OSError as exc:
            raise _storage_error(exc, "storing a blob") from exc
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    try:
                        chunk = src.read(_CHUNK)  # type: ignore[attr-defined]
                    except OSError as exc:
                        raise SourceFileError(f"cannot read file {source}: {exc}") from exc
                    if not chunk:
                        break
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise SourceFileError(f"file is empty: {source}")
            sha = digest.hexdigest()
            final = self.path(sha)
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tmp, final)
                created = True
            except FileExistsError:
                created = False
            if created:
                _fsync_dir(final.parent)
            return StoredBlob(sha256=sha, size=size, created=created)
        except OSError as exc:
            raise _storage_error(exc, f"storing {source.name}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def verify(self, sha256: str) -> str | None:
        """Re-hash a stored blob; return a problem description, or None when it is intact."""
        path = self.path(sha256)
        if not path.is_file():
            return "missing"
        try:
            actual = sha256_file(path)
        except OSError as exc:
            return f"unreadable ({exc.strerror})"
        if actual != sha256:
            return f"content hashes to {actual}, not its name"
        return None

    def iter_stored(self) -> Iterator[str]:
        """Every SHA-256 present under a final name."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.name == "tmp" or not sub.is_dir() or len(sub.name) != 2:
                continue
            for f in sorted(sub.iterdir()):
                name = sub.name + f.name
                if _SHA_RE.match(name):
                    yield name

    def orphans(self) -> list[Path]:
        """Temporary files left by an interrupted write (harmless; never under a final name)."""
        return sorted(self._tmp.glob("incoming-*")) if self._tmp.is_dir() else []


class DerivedStore:
    """Rebuildable artefacts (thumbnails, keyframes, feature caches, match pictures).

    Kept apart from originals: deleting this directory loses nothing that `verify` cannot
    recompute. Paths are `derived/<namespace>/<key[:2]>/<key>/<name>`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, namespace: str, key: str, name: str) -> Path:
        for part in (namespace, key, name):
            if not part or "/" in part or "\\" in part or part in (".", ".."):
                raise BlobError(f"invalid derived-artefact path component: {part!r}")
        return self.root / namespace / key[:2] / key / name

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BlobError(f"derived path escapes the store: {relative!r}")
        return path

    def read(
        self, namespace: str, key: str, name: str, *, max_bytes: int | None = None
    ) -> bytes | None:
        """The artefact's bytes, or None when there is none. Raises BlobError naming the file
        when something is there that cannot be read (a folder in its place, no permission) or,
        with `max_bytes`, is larger than anything the caller writes there (a file swapped for
        a huge one would otherwise be read whole into memory)."""
        path = self.path(namespace, key, name)
        try:
            with open(path, "rb") as fh:
                data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BlobError(
                f"cannot read derived artefact {path}: {exc.strerror or exc} (derived files "
                "can be deleted: they are made again)"
            ) from exc
        if max_bytes is not None and len(data) > max_bytes:
            raise BlobError(
                f"derived artefact {path} is larger than the {max_bytes} bytes claimcheck "
                "writes there (derived files can be deleted: they are made again)"
            )
        return data

    def write_relative(self, relative: str, data: bytes) -> Path:
        """`write` addressed by a path relative to the store (as findings record them)."""
        parts = relative.split("/")
        if len(parts) != 4 or parts[1] != parts[2][:2]:
            raise BlobError(f"not a derived-artefact path: {relative!r}")
        return self.write(parts[0], parts[2], parts[3], data)

    def write(self, namespace: str, key: str, name: str, data: bytes) -> Path:
        """Write atomically (temp file + rename): readers see the old file or the new one."""
        final = self.path(namespace, key, name)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp_name, final)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
                raise
        except OSError as exc:
            raise _storage_error(exc, f"writing derived artefact {name}") from exc
        return final
