"""Adding evidence: files and witness statements, stored untouched and logged.

Per file: check it is readable and of the declared kind (by content, never extension), copy it
into the blob store, analyse it (metadata, hashes, keyframes: pure functions of the bytes, done
outside any transaction), then record the item, its links and their custody events in one
transaction. Re-adding the same bytes to a case links the existing item instead of duplicating;
what the re-add says that is new about them (another witness who gave the same words, another
source or collector of the same file) is recorded as a further attribution of that item.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.analysis import (
    PICTURE_FEATURES_NAMESPACE,
    FileAnalysis,
    analyse_file,
    analyse_statement,
    picture_features_name,
)
from cases.errors import InputError, WrongKindError
from cases.validate import check_kind, check_link, check_text, check_utf8, display_name
from cases.workflow import find_site, load_case
from evidence_store.custody import append_event, lock_case
from evidence_store.db import Workspace
from evidence_store.errors import SourceFileError
from evidence_store.models import (
    Blob,
    Case,
    EvidenceItem,
    Frame,
    ItemAttribution,
    ItemLink,
    Site,
)
from evidence_store.timeutil import utcnow
from verify.media import IMAGE_TYPES, VIDEO_TYPES, sniff_media_type

# A witness statement is prose; anything larger than this is a document, not a statement.
MAX_STATEMENT_BYTES = 5_000_000
# What a witness statement can be: evidence for the claim, or other (a witness for the denial,
# or one whose account supports neither side).
STATEMENT_ROLES = ("supports_claim", "other")


@dataclass(frozen=True)
class IngestResult:
    item: str
    filename: str
    sha256: str
    kind: str
    new_item: bool
    blob_existed: bool
    new_links: tuple[str, ...] = field(default_factory=tuple)
    # What a re-add recorded as a further attribution of the existing item, in words
    # ("witness 'Y', source 'Z'"), or None when it said nothing new.
    new_attribution: str | None = None
    # Why a new photo or video gave no picture to analyse (stored all the same), else None.
    undecodable: str | None = None

    @property
    def warning(self) -> str | None:
        """A line for the investigator when the file is stored but cannot be analysed."""
        if self.undecodable is None:
            return None
        return (
            f"{self.filename} is stored as {self.item}, but no picture could be decoded from it "
            f"({self.undecodable}): its checks will be inconclusive"
        )

    @property
    def message(self) -> str:
        if self.new_item:
            note = " (identical bytes already stored: blob reused)" if self.blob_existed else ""
            return f"added {self.filename} as {self.item}{note}"
        done = []
        if self.new_attribution:
            done.append(f"recorded a further attribution ({self.new_attribution})")
        if self.new_links:
            done.append(f"linked as {', '.join(self.new_links)}")
        if done:
            return f"{self.filename} is already {self.item}: {'; '.join(done)}"
        return (
            f"{self.filename} is already {self.item} with the same role and attribution: "
            "nothing to do"
        )


def kind_for_media_type(media_type: str) -> str:
    if media_type in IMAGE_TYPES:
        return "photo"
    if media_type in VIDEO_TYPES:
        return "video"
    return "document"


def check_kind_matches(path: Path, kind: str, media_type: str) -> None:
    if kind == "photo" and media_type not in IMAGE_TYPES:
        raise WrongKindError(f"{display_name(path)} is not a photo: its content is {media_type}")
    if kind == "video" and media_type not in VIDEO_TYPES:
        raise WrongKindError(f"{display_name(path)} is not a video: its content is {media_type}")
    if kind == "statement":
        raise WrongKindError("witness statements are added with `claimcheck statement add`")


def precheck_file(path: Path, kind: str | None) -> tuple[str, str]:
    """Fail before anything is stored: the file must exist, be readable and non-empty, and
    its content must fit `kind`. Returns (kind, media type)."""
    if not path.exists():
        raise SourceFileError(f"file not found: {path}")
    if not path.is_file():
        raise SourceFileError(f"not a regular file: {path}")
    try:
        media_type = sniff_media_type(path)
        size = path.stat().st_size
    except PermissionError as exc:
        raise SourceFileError(f"cannot read file (permission denied): {path}") from exc
    except OSError as exc:
        raise SourceFileError(f"cannot read file {path}: {exc.strerror}") from exc
    if size == 0:
        raise SourceFileError(f"file is empty: {path}")
    resolved = kind or kind_for_media_type(media_type)
    check_kind_matches(path, resolved, media_type)
    return resolved, media_type


def precheck_files(paths: Sequence[Path], kind: str | None) -> list[tuple[Path, str, str]]:
    """`precheck_file` for every path, before anything is stored: a command that records
    something and then adds files (a site with its imagery, a denial with its footage) calls
    this first, so a bad path fails it before its first write. Returns (path, kind, media
    type) per file."""
    return [(path, *precheck_file(path, kind)) for path in paths]


@dataclass(frozen=True)
class LinkSpec:
    role: str
    site: str | None = None


def _ensure_blob(session: Session, sha256: str, size: int, media_type: str) -> None:
    if session.get(Blob, sha256) is None:
        session.add(Blob(sha256=sha256, size=size, media_type=media_type, stored_at=utcnow()))
        session.flush()


def _add_links(
    session: Session, case: Case, item: EvidenceItem, links: Sequence[LinkSpec], actor: str
) -> list[str]:
    added: list[str] = []
    for spec in links:
        site: Site | None = find_site(case, spec.site) if spec.site else None
        site_id = site.id if site is not None else None
        if any(lk.role == spec.role and lk.site_id == site_id for lk in item.links):
            continue
        link = ItemLink(item=item, role=spec.role, site=site, created_at=utcnow())
        session.add(link)
        session.flush()
        append_event(
            session,
            case,
            "link",
            actor,
            record=link,
            item_sha256=item.sha256,
            details={"item": item.code, "role": spec.role, "site": spec.site},
        )
        added.append(spec.role + (f" of site {spec.site!r}" if spec.site else ""))
    return added


def _store_frames(ws: Workspace, item: EvidenceItem, analysis: FileAnalysis) -> list[Frame]:
    rows = []
    for frame in analysis.frames:
        if frame.thumbnail_jpeg is not None:
            ws.derived.write(
                "keyframes", item.sha256, f"{frame.index:08d}.jpg", frame.thumbnail_jpeg
            )
        if frame.picture_features is not None:
            name = picture_features_name(frame.index)
            ws.derived.write(PICTURE_FEATURES_NAMESPACE, item.sha256, name, frame.picture_features)
        rows.append(Frame(frame_index=frame.index, time_s=frame.time_s, hashes=frame.hashes))
    return rows


@dataclass(frozen=True)
class ItemFacts:
    """What the investigator says about an item (as opposed to what the file says)."""

    source: str | None = None
    collected_by: str | None = None
    collected_at: datetime | None = None
    notes: str | None = None
    witness: str | None = None
    statement_date: date | None = None
    language: str | None = None

    def check(self) -> None:
        """Refuse, before anything is stored, text that cannot be stored."""
        for what, value in (
            ("source", self.source),
            ("collected by", self.collected_by),
            ("notes", self.notes),
            ("witness name", self.witness),
            ("language", self.language),
        ):
            if value is not None:
                check_utf8(value, what)


_ATTRIBUTION_FIELDS = (
    "source",
    "collected_by",
    "collected_at",
    "notes",
    "witness",
    "statement_date",
    "language",
)


def _attribution_words(facts: ItemFacts) -> str:
    given = [(f, getattr(facts, f)) for f in _ATTRIBUTION_FIELDS if getattr(facts, f) is not None]
    return ", ".join(f"{name.replace('_', ' ')} {str(value)[:60]!r}" for name, value in given)


def _add_attribution(
    session: Session, case: Case, item: EvidenceItem, facts: ItemFacts, actor: str
) -> str | None:
    """Record what a re-add says about an existing item, unless it says nothing new.

    It is new unless the item itself or one of its attributions already holds every fact
    given (a re-add that repeats the source alone, or nothing, changes nothing).
    """
    given = {f: getattr(facts, f) for f in _ATTRIBUTION_FIELDS if getattr(facts, f) is not None}
    if not given:
        return None
    # Lock the case first, then reread the attributions: a concurrent re-add of the same item
    # must not take the same number, nor record the same facts twice.
    lock_case(session, case)
    session.refresh(item, attribute_names=["attributions"])
    holders: list[EvidenceItem | ItemAttribution] = [item, *item.attributions]
    if any(all(getattr(h, f) == v for f, v in given.items()) for h in holders):
        return None
    attribution = ItemAttribution(
        item=item,
        seq=len(item.attributions) + 1,
        **given,
        created_at=utcnow(),
    )
    session.add(attribution)
    session.flush()
    words = _attribution_words(facts)
    append_event(
        session,
        case,
        "attribute",
        actor,
        record=attribution,
        item_sha256=item.sha256,
        details={"item": item.code, "attribution": attribution.seq},
    )
    return words


def _record_item(
    ws: Workspace,
    actor: str,
    case_code: str,
    *,
    path_name: str,
    kind: str,
    media_type: str,
    sha256: str,
    size: int,
    blob_existed: bool,
    analysis: FileAnalysis,
    facts: ItemFacts,
    links: Sequence[LinkSpec],
) -> IngestResult:
    def work(session: Session) -> IngestResult:
        case = load_case(session, case_code)
        _ensure_blob(session, sha256, size, media_type)
        existing = session.scalar(
            select(EvidenceItem).where(
                EvidenceItem.case_id == case.id, EvidenceItem.sha256 == sha256
            )
        )
        if existing is not None:
            attributed = _add_attribution(session, case, existing, facts, actor)
            added = _add_links(session, case, existing, links, actor)
            return IngestResult(
                existing.code,
                path_name,
                sha256,
                existing.kind,
                False,
                True,
                tuple(added),
                attributed,
            )
        item = EvidenceItem(
            code="~" + sha256[:15],
            case=case,
            kind=kind,
            sha256=sha256,
            filename=path_name,
            media_type=media_type,
            size=size,
            source=facts.source,
            collected_by=facts.collected_by,
            collected_at=facts.collected_at,
            ingested_at=utcnow(),
            notes=facts.notes,
            witness=facts.witness,
            statement_date=facts.statement_date,
            language=facts.language,
            file_metadata=analysis.metadata,
        )
        session.add(item)
        session.flush()
        item.code = f"E-{item.id:06d}"
        item.frames = _store_frames(ws, item, analysis)
        session.flush()
        append_event(
            session,
            case,
            "add",
            actor,
            record=item,
            item_sha256=sha256,
            details={"item": item.code, "filename": path_name, "kind": kind},
        )
        added = _add_links(session, case, item, links, actor)
        return IngestResult(
            item.code,
            path_name,
            sha256,
            kind,
            True,
            blob_existed,
            tuple(added),
            undecodable=_undecodable(kind, analysis),
        )

    return ws.run_write(work)


def _undecodable(kind: str, analysis: FileAnalysis) -> str | None:
    if kind not in ("photo", "video") or analysis.frames:
        return None
    problems = [str(p) for p in analysis.metadata.get("problems") or []]
    return problems[-1] if problems else "no decodable picture"


def add_evidence(
    ws: Workspace,
    actor: str,
    case_code: str,
    paths: Sequence[Path],
    *,
    kind: str | None,
    links: Sequence[LinkSpec] = (),
    facts: ItemFacts = ItemFacts(),
    on_progress: Callable[[IngestResult], None] | None = None,
    on_video_progress: Callable[[str, float, float], None] | None = None,
) -> list[IngestResult]:
    """Ingest files into a case. Every file is checked before the first is stored.
    `on_video_progress(filename, seconds decoded, duration)` follows keyframe extraction."""
    ws.require_writable()
    if kind is not None:
        check_kind(kind)
    for spec in links:
        check_link(spec.role, spec.site)
    if not paths:
        raise InputError("no files given")
    facts.check()
    with ws.reading() as session:
        case = load_case(session, case_code)
        for spec in links:
            if spec.site:
                find_site(case, spec.site)
        case_code = case.code
    planned = precheck_files(paths, kind)
    results = []
    for path, item_kind, media_type in planned:
        name = display_name(path)
        stored = ws.blobs.put_file(path)
        video_progress = (
            None if on_video_progress is None else functools.partial(on_video_progress, name)
        )
        blob = ws.blobs.path(stored.sha256)
        analysis = analyse_file(blob, media_type, item_kind, video_progress, label=name)
        result = _record_item(
            ws,
            actor,
            case_code,
            path_name=name,
            kind=item_kind,
            media_type=media_type,
            sha256=stored.sha256,
            size=stored.size,
            blob_existed=not stored.created,
            analysis=analysis,
            facts=facts,
            links=links,
        )
        results.append(result)
        if on_progress is not None:
            on_progress(result)
    return results


def decode_statement(raw: bytes, encoding: str | None, name: str) -> tuple[str, str]:
    """Decode statement bytes; returns (text, encoding used). Without an explicit encoding,
    only UTF-8 and BOM-marked UTF-16 are accepted: guessing a legacy code page could
    silently garble a witness's words."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(f"unknown text encoding {encoding!r}") from exc
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise InputError(f"{name} is not valid {encoding} text (byte {exc.start})") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(f"{name} is not valid UTF-16 text (byte {exc.start})") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name} is not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); pass --encoding, e.g. --encoding cp1256 or --encoding latin-1"
        ) from exc


# Line breaks, tabs and form feeds occur in typed statements; other C0 controls (NUL above all)
# mean the bytes are binary data that happened to decode, not a witness's words.
_PROSE_CONTROLS = frozenset("\n\r\t\f")


def check_prose(text: str, name: str) -> None:
    bad = next((c for c in text if ord(c) < 32 and c not in _PROSE_CONTROLS), None)
    if bad is not None:
        raise InputError(
            f"{name} is not a text statement (control character 0x{ord(bad):02x} at offset "
            f"{text.index(bad)}); add it as a document"
        )


def add_statement(
    ws: Workspace,
    actor: str,
    case_code: str,
    *,
    witness: str,
    text: str | None = None,
    file: Path | None = None,
    encoding: str | None = None,
    facts: ItemFacts = ItemFacts(),
    role: str = "supports_claim",
) -> IngestResult:
    """Record a witness statement as text evidence. From a file, the original bytes are what
    is stored (the evidence); the decoded text is checked to be readable first.

    `role` is supports_claim or other: not every witness supports the claim (a resident may
    say nothing happened), and a statement is neither denial footage nor site imagery."""
    ws.require_writable()
    check_text(witness, "witness name")
    if role not in STATEMENT_ROLES:
        raise InputError(
            f"a witness statement's role is {' or '.join(STATEMENT_ROLES)}, not {role!r}"
        )
    facts.check()
    if text is not None and file is not None:
        raise InputError("give the statement either as --text or as --file, not both")
    if text is None and file is None:
        raise InputError("give the statement's words with --text or --file")
    with ws.reading() as session:
        case_code = load_case(session, case_code).code
    if file is not None:
        precheck_file(file, "document")
        try:
            # No further than the limit: a huge file is refused without being read into memory.
            with open(file, "rb") as fh:
                raw = fh.read(MAX_STATEMENT_BYTES + 1)
        except OSError as exc:
            raise SourceFileError(f"cannot read file {file}: {exc.strerror}") from exc
        name = display_name(file)
    else:
        assert text is not None
        check_text(text, "statement text")
        raw = text.encode("utf-8")
        encoding = "utf-8"
        name = "statement.txt"
    if len(raw) > MAX_STATEMENT_BYTES:
        raise InputError(f"{name} is larger than {MAX_STATEMENT_BYTES} bytes: add it as a document")
    decoded, used = decode_statement(raw, encoding, name)
    check_text(decoded, "statement text")
    check_prose(decoded, name)
    if file is not None:
        stored = ws.blobs.put_file(file)
    else:
        import tempfile

        with tempfile.NamedTemporaryFile(dir=ws.home, prefix=".statement-", delete=True) as tmp:
            tmp.write(raw)
            tmp.flush()
            stored = ws.blobs.put_file(Path(tmp.name))
    facts = ItemFacts(
        source=facts.source,
        collected_by=facts.collected_by,
        collected_at=facts.collected_at,
        notes=facts.notes,
        witness=witness.strip(),
        statement_date=facts.statement_date,
        language=facts.language,
    )
    return _record_item(
        ws,
        actor,
        case_code,
        path_name=name,
        kind="statement",
        media_type="text/plain",
        sha256=stored.sha256,
        size=stored.size,
        blob_existed=not stored.created,
        analysis=analyse_statement(decoded, used),
        facts=facts,
        links=[LinkSpec(role)],
    )


def read_statement_text(ws: Workspace, item: EvidenceItem) -> str:
    """The decoded text of a statement, with the encoding recorded at ingest."""
    encoding = (item.file_metadata or {}).get("encoding", "utf-8")
    raw = ws.blobs.path(item.sha256).read_bytes()
    text, _ = decode_statement(raw, encoding if encoding != "utf-8" else None, item.filename)
    return text
