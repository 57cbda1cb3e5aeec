"""Exporting a case as a self-verifying zip bundle, and importing one.

Export logs an `export` event, then writes the case's canonical rows, custody chain, originals,
derived pictures and a manifest of SHA-256 hashes (layout in `cases.bundle_format`).

Import trusts nothing until everything checks: entry names (no `..`, absolute paths or
symlinks), declared and actual sizes (no zip bombs), every entry's hash against the manifest,
the custody chain event by event, and every row against the hash its last event logged. Only
then are blobs stored and rows written, in one transaction, as a NEW case with fresh codes
(ids are per workspace); the first event of its chain is an `import` event naming the bundle's
hash, the source workspace, case and chain head, mapping old codes to new, and keeping the
verified source chain itself (`source_events`): who added what and when, and the replaced
wording of a claim or denial, must survive the exchange. Importing a case that is already
here (the same source workspace and case) is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from cases import bundle_format as fmt
from cases.corrections import CORRECTIONS
from cases.errors import BundleError
from cases.report.data import build_report
from cases.validate import unsafe_output
from cases.workflow import load_case
from evidence_store.blobs import sha256_file
from evidence_store.custody import (
    ALSO_LOGGED,
    append_event,
    canonical_json,
    case_events,
    event_payload,
    logged_records,
)
from evidence_store.db import Workspace
from evidence_store.errors import StoreUnavailableError
from evidence_store.models import (
    GENESIS_HASH,
    Base,
    Blob,
    Case,
    Claim,
    CustodyEvent,
    Denial,
    EvidenceItem,
    Finding,
    Frame,
    ItemAttribution,
    ItemLink,
    Site,
    VerifyRun,
)
from evidence_store.timeutil import iso_utc, utcnow
from verify import __version__ as TOOL_VERSION

_CHUNK = 1 << 20
# What zipfile and zlib raise on damaged archives (bad CRC, bad headers, bad deflate data,
# unsupported compression or encryption): all mean "refuse the bundle".
_CORRUPT_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class ExportSummary:
    case: str
    path: Path
    files: int
    bytes: int


@dataclass(frozen=True)
class ImportSummary:
    case: str
    source_case: str
    source_workspace: str
    items: int
    findings: int
    bundle_sha256: str


# --- export -----------------------------------------------------------------------------


def report_document(ws: Workspace, case_code: str) -> dict[str, Any]:
    """The case report as data, carried in the bundle as `report.json` so a reader of the bundle
    sees the conclusions without running the tool."""
    return build_report(ws, case_code)


def _case_rows(session: Session, case: Case) -> dict[str, Any]:
    findings = list(
        session.scalars(select(Finding).where(Finding.case_id == case.id).order_by(Finding.id))
    )
    runs = list(
        session.scalars(
            select(VerifyRun).where(VerifyRun.case_id == case.id).order_by(VerifyRun.id)
        )
    )
    return {
        "case": case.canonical(),
        "claim": case.claim.canonical() if case.claim else None,
        "denial": case.denial.canonical() if case.denial else None,
        "sites": [s.canonical() for s in case.sites],
        "items": [i.canonical() for i in case.items],
        "links": [lk.canonical() for i in case.items for lk in i.links],
        "attributions": [a.canonical() for i in case.items for a in i.attributions],
        "frames": [
            {"item": i.code, "frame_index": f.frame_index, "time_s": f.time_s, "hashes": f.hashes}
            for i in case.items
            for f in i.frames
        ],
        "runs": [
            {
                "id": r.id,
                "started_at": iso_utc(r.started_at),
                "finished_at": iso_utc(r.finished_at),
                "tool_version": r.tool_version,
                "actor": r.actor,
            }
            for r in runs
        ],
        "findings": [f.canonical() for f in findings],
    }


def _derived_files(ws: Workspace, rows: dict[str, Any]) -> list[str]:
    """Derived-store paths worth carrying: keyframe thumbnails and finding pictures."""
    wanted: set[str] = set()
    for item in rows["items"]:
        folder = ws.derived.root / "keyframes" / item["sha256"][:2] / item["sha256"]
        if folder.is_dir():
            wanted.update(ws.derived.relative(p) for p in folder.iterdir() if p.is_file())
    for finding in rows["findings"]:
        for rel in finding["artefacts"]:
            with contextlib.suppress(Exception):
                if ws.derived.resolve(rel).is_file():
                    wanted.add(rel)
    return sorted(wanted)


def export_case(
    ws: Workspace,
    actor: str,
    case_code: str,
    out: Path,
    *,
    on_file: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the case to `out` (atomically: a temp file renamed into place when complete)."""
    refusal = unsafe_output(ws, out, "bundle")
    if refusal is not None:
        raise BundleError(refusal)

    def log_export(session: Session) -> str:
        case = load_case(session, case_code)
        append_event(session, case, "export", actor, details={"to": out.name})
        return case.code

    code = ws.run_write(log_export)
    with ws.snapshot() as session:
        case = load_case(session, code)
        rows = _case_rows(session, case)
        custody = [{**event_payload(e, code), "hash": e.hash} for e in case_events(session, case)]
        head = case.chain_head
    report = report_document(ws, code)
    documents: dict[str, bytes] = {
        fmt.ROWS: json.dumps(rows, indent=1, ensure_ascii=False).encode("utf-8"),
        fmt.CUSTODY: json.dumps(custody, indent=1, ensure_ascii=False).encode("utf-8"),
    }
    documents[fmt.REPORT] = json.dumps(report, indent=1, default=str).encode("utf-8")
    files: dict[str, Path] = {}
    for sha in sorted({i["sha256"] for i in rows["items"]}):
        files[fmt.ORIGINALS + sha] = ws.blobs.path(sha)
    for rel in _derived_files(ws, rows):
        files[fmt.DERIVED + rel] = ws.derived.resolve(rel)
    manifest_files: dict[str, dict[str, Any]] = {}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        os.close(fd)
        total = 0
        try:
            with zipfile.ZipFile(tmp_name, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                for name, data in documents.items():
                    zf.writestr(name, data)
                    manifest_files[name] = {
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                    }
                for n, (name, path) in enumerate(files.items(), 1):
                    # Originals are already compressed media: store them as they are.
                    zf.write(path, name, compress_type=zipfile.ZIP_STORED)
                    manifest_files[name] = {
                        "sha256": sha256_file(path),
                        "size": path.stat().st_size,
                    }
                    total += manifest_files[name]["size"]
                    if on_file is not None:
                        on_file(n, len(files))
                manifest = {
                    "format": fmt.FORMAT,
                    "version": fmt.VERSION,
                    "case": code,
                    "workspace": ws.fingerprint,
                    "chain_head": head,
                    "exported_at": iso_utc(utcnow()),
                    "tool_version": TOOL_VERSION,
                    "files": manifest_files,
                }
                zf.writestr(fmt.MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
            os.replace(tmp_name, out)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
    except OSError as exc:
        raise BundleError(f"cannot write bundle {out}: {exc.strerror or exc}") from exc
    return ExportSummary(code, out, len(manifest_files), total)


# --- import: checking ---------------------------------------------------------------------


def _check_entries(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > fmt.MAX_ENTRIES:
        raise BundleError(f"bundle has {len(infos)} entries, more than {fmt.MAX_ENTRIES}")
    entries: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        why = fmt.unsafe_name(name)
        if why:
            raise BundleError(f"bundle entry {name!r} refused: {why}")
        if fmt.is_symlink(info):
            raise BundleError(f"bundle entry {name!r} refused: symbolic link")
        if info.is_dir():
            continue
        if name in entries:
            raise BundleError(f"bundle entry {name!r} appears twice")
        total += info.file_size
        if total > fmt.MAX_TOTAL_UNCOMPRESSED:
            raise BundleError(
                f"bundle would expand to more than {fmt.MAX_TOTAL_UNCOMPRESSED} bytes"
            )
        if info.file_size > fmt.RATIO_FLOOR_BYTES and info.file_size > fmt.MAX_RATIO * max(
            1, info.compress_size
        ):
            raise BundleError(
                f"bundle entry {name!r} expands {info.file_size // max(1, info.compress_size)}"
                f" times (more than {fmt.MAX_RATIO}): refusing a possible zip bomb"
            )
        entries[name] = info
    return entries


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, sink: Any, limit: int) -> str:
    """Copy one entry to `sink`, refusing more bytes than declared; return its SHA-256."""
    digest = hashlib.sha256()
    size = 0
    try:
        src = zf.open(info)
    except (OSError, *_CORRUPT_ZIP) as exc:
        raise BundleError(f"bundle entry {info.filename!r} is damaged: {exc}") from exc
    with src:
        while True:
            try:
                chunk = src.read(_CHUNK)
            except (OSError, *_CORRUPT_ZIP) as exc:
                raise BundleError(f"bundle entry {info.filename!r} is damaged: {exc}") from exc
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise BundleError(f"bundle entry {info.filename!r} is larger than it declares")
            digest.update(chunk)
            try:
                sink(chunk)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot stage the bundle in the workspace: {exc.strerror or exc}"
                ) from exc
    return digest.hexdigest()


def _load_json(zf: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], name: str) -> Any:
    info = entries.get(name)
    if info is None:
        raise BundleError(f"bundle has no {name}")
    if info.file_size > fmt.MAX_JSON_BYTES:
        raise BundleError(f"{name} is larger than {fmt.MAX_JSON_BYTES} bytes")
    parts: list[bytes] = []
    _read_bounded(zf, info, parts.append, info.file_size)
    try:
        return json.loads(b"".join(parts).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{name} is not valid JSON: {exc}") from exc


def _payload_hash(event: dict[str, Any]) -> str:
    payload = {k: event.get(k) for k in event if k != "hash"}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(row).encode("utf-8")).hexdigest()


def _row_refs(rows: dict[str, Any]) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    code = rows["case"]["code"]
    refs: list[tuple[tuple[str, str], dict[str, Any]]] = [(("case", code), rows["case"])]
    if rows.get("claim"):
        refs.append((("claim", code), rows["claim"]))
    if rows.get("denial"):
        refs.append((("denial", code), rows["denial"]))
    refs += [(("site", f"{code}/{s['name']}"), s) for s in rows["sites"]]
    refs += [(("item", i["code"]), i) for i in rows["items"]]
    refs += [
        (("link", f"{lk['item']}/{lk['role']}/{lk['site'] or ''}"), lk) for lk in rows["links"]
    ]
    # Bundles written before attributions existed have none to carry.
    refs += [(("attribution", f"{a['item']}/{a['seq']}"), a) for a in rows.get("attributions", [])]
    refs += [(("finding", f["code"]), f) for f in rows["findings"]]
    return refs


def verify_bundle_records(rows: dict[str, Any], custody: list[dict[str, Any]]) -> list[str]:
    """Re-walk the bundle's chain and hold every row to its last logged hash.

    Returns the problems found (empty when the bundle's records are exactly what was logged).
    """
    problems: list[str] = []
    try:
        code = rows["case"]["code"]
        prev: object = GENESIS_HASH
        seq = 1
        last: dict[tuple[str, str], str | None] = {}
        for ev in custody:
            where = f"event {ev.get('seq')}"
            if ev.get("case") != code:
                problems.append(f"{where}: belongs to case {ev.get('case')!r}, not {code}")
            if ev.get("seq") != seq:
                problems.append(f"{where}: expected event {seq} (sequence gap)")
            if ev.get("prev_hash") != prev:
                problems.append(f"{where}: does not link to the previous event")
            if _payload_hash(ev) != ev.get("hash"):
                problems.append(f"{where}: content does not match its hash (edited)")
            for ref, rhash in logged_records(
                ev.get("record_type"), ev.get("record_id"), ev.get("record_hash"), ev.get("details")
            ):
                last[ref] = rhash
            prev, seq = ev.get("hash"), seq + 1
        seen = set()
        for ref, row in _row_refs(rows):
            seen.add(ref)
            if ref not in last:
                problems.append(f"{ref[0]} {ref[1]}: no custody event logged it")
            elif last[ref] is None:
                problems.append(f"{ref[0]} {ref[1]}: logged as removed but in the bundle")
            elif last[ref] != _row_hash(row):
                problems.append(f"{ref[0]} {ref[1]}: differs from what the custody log recorded")
        problems += [
            f"{t} {i}: logged but missing from the bundle"
            for t, i in set(last) - seen
            if last[(t, i)] is not None  # removed on purpose: its removal event holds it
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        problems.append(f"case.json or custody.json is malformed ({exc!r})")
    return problems


# --- import: writing ----------------------------------------------------------------------


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _d(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _f(value: str | None) -> float | None:
    return None if value is None else float(value)


def _previous_import(session: Session, workspace: str, source_case: str) -> str | None:
    events = session.scalars(select(CustodyEvent).where(CustodyEvent.action == "import"))
    for ev in events:
        src = (ev.details or {}).get("source", {})
        if src.get("workspace") == workspace and src.get("case") == source_case:
            return session.get(Case, ev.case_id).code  # type: ignore[union-attr]
    return None


def _corrections_after_run(
    rows: dict[str, Any], custody: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The source's corrections (site edits and removals, removed links) made after its latest
    complete verify run: the run did not see them, and an imported case must say so too."""
    done = [r for r in rows["runs"] if r["finished_at"] is not None]
    if not done:
        return []
    start = datetime.fromisoformat(max(done, key=lambda r: r["id"])["started_at"])
    return [
        ev
        for ev in custody
        if ev["action"] in CORRECTIONS and datetime.fromisoformat(ev["at"]) > start
    ]


def _carried(event: dict[str, Any], codes: dict[str, str]) -> dict[str, Any]:
    """A source correction's details for the new chain: item codes of this workspace, the
    source event's number and time, and no rows logged (the removed rows were never imported)."""
    if not isinstance(event["details"], dict):
        raise BundleError(f"custody event {event['seq']} has malformed details")
    details = {k: v for k, v in event["details"].items() if k != ALSO_LOGGED}
    if "item" in details:
        details["item"] = codes.get(details["item"], details["item"])
    if "links" in details:
        details["links"] = [
            {**lk, "item": codes.get(lk["item"], lk["item"])} for lk in details["links"]
        ]
    return details | {"imported": True, "source_seq": event["seq"], "source_at": event["at"]}


def _write_case(
    session: Session,
    actor: str,
    rows: dict[str, Any],
    source: dict[str, Any],
    custody: list[dict[str, Any]],
) -> tuple[Case, int, int]:
    c = rows["case"]
    case = Case(
        code="~" + uuid.uuid4().hex[:15],
        title=c["title"],
        incident_date=_d(c["incident_date"]),
        place_name=c["place_name"],
        lat=_f(c["lat"]),
        lon=_f(c["lon"]),
        summary=c["summary"],
        status=c["status"],
        created_at=_dt(c["created_at"]),
    )
    session.add(case)
    session.flush()
    case.code = f"C-{case.id:04d}"
    session.flush()
    codes: dict[str, str] = {c["code"]: case.code}
    imported: list[object] = []

    def keep(record: object) -> None:
        session.add(record)
        imported.append(record)

    if rows.get("claim"):
        r = rows["claim"]
        keep(
            Claim(
                case=case, text=r["text"], source=r["source"], url=r["url"],
                published=_d(r["published"]), killed=r["killed"], children=r["children"],
                women=r["women"], perpetrator=r["perpetrator"], updated_at=_dt(r["updated_at"]),
            )
        )  # fmt: skip
    if rows.get("denial"):
        r = rows["denial"]
        keep(
            Denial(
                case=case, by=r["by"], date=_d(r["date"]), text=r["text"], url=r["url"],
                updated_at=_dt(r["updated_at"]),
            )
        )  # fmt: skip
    sites: dict[str, Site] = {}
    for r in rows["sites"]:
        sites[r["name"]] = Site(
            case=case, name=r["name"], lat=_f(r["lat"]), lon=_f(r["lon"]),
            radius_m=_f(r["radius_m"]), claimed=r["claimed"], created_at=_dt(r["created_at"]),
        )  # fmt: skip
        keep(sites[r["name"]])
    items: dict[str, EvidenceItem] = {}
    for r in rows["items"]:
        if session.get(Blob, r["sha256"]) is None:
            session.add(Blob(sha256=r["sha256"], size=r["size"], media_type=r["media_type"]))
        item = EvidenceItem(
            code="~" + uuid.uuid4().hex[:15], case=case, kind=r["kind"], sha256=r["sha256"],
            filename=r["filename"], media_type=r["media_type"], size=r["size"],
            source=r["source"], collected_by=r["collected_by"],
            collected_at=_dt(r["collected_at"]), ingested_at=_dt(r["ingested_at"]),
            notes=r["notes"], witness=r["witness"], statement_date=_d(r["statement_date"]),
            language=r["language"], file_metadata=json.loads(r["file_metadata"]),
        )  # fmt: skip
        session.add(item)
        session.flush()
        item.code = f"E-{item.id:06d}"
        codes[r["code"]] = item.code
        items[r["code"]] = item
        keep(item)
    for r in rows["frames"]:
        session.add(
            Frame(
                item=items[r["item"]], frame_index=r["frame_index"], time_s=r["time_s"],
                hashes=r["hashes"],
            )
        )  # fmt: skip
    for r in rows["links"]:
        link = ItemLink(
            item=items[r["item"]], role=r["role"],
            site=sites[r["site"]] if r["site"] is not None else None,
            created_at=_dt(r["created_at"]),
        )  # fmt: skip
        keep(link)
    for r in rows.get("attributions", []):
        attribution = ItemAttribution(
            item=items[r["item"]], seq=r["seq"], source=r["source"],
            collected_by=r["collected_by"], collected_at=_dt(r["collected_at"]),
            notes=r["notes"], witness=r["witness"], statement_date=_d(r["statement_date"]),
            language=r["language"], created_at=_dt(r["created_at"]),
        )  # fmt: skip
        keep(attribution)
    runs: dict[int, VerifyRun] = {}
    for r in rows["runs"]:
        runs[r["id"]] = VerifyRun(
            case_id=case.id, started_at=_dt(r["started_at"]), finished_at=_dt(r["finished_at"]),
            tool_version=r["tool_version"], actor=r["actor"],
        )  # fmt: skip
        session.add(runs[r["id"]])
    session.flush()
    n_findings = 0
    for r in rows["findings"]:
        finding = Finding(
            code="~" + uuid.uuid4().hex[:15], case=case, run=runs[r["run"]], check=r["check"],
            verdict=r["verdict"], items=[codes.get(i, i) for i in r["items"]],
            values=json.loads(r["values"]), detail=r["detail"], artefacts=r["artefacts"],
            created_at=_dt(r["created_at"]), tool_version=r["tool_version"],
        )  # fmt: skip
        session.add(finding)
        session.flush()
        finding.code = f"F-{finding.id:06d}"
        codes[r["code"]] = finding.code
        keep(finding)
        n_findings += 1
    session.flush()
    append_event(
        session, case, "import", actor, record=case,
        details={"source": source, "codes": codes, "source_events": custody},
    )  # fmt: skip
    for record in imported:
        append_event(
            session, case, "import", actor, record=record,
            item_sha256=getattr(record, "sha256", None),
        )  # fmt: skip
    for run_id, run in runs.items():
        count = sum(1 for r in rows["findings"] if r["run"] == run_id)
        append_event(
            session, case, "verify", actor,
            details={"run": run.id, "findings": count, "tool_version": run.tool_version,
                     "run_actor": run.actor, "imported": True},
        )  # fmt: skip
    for event in _corrections_after_run(rows, custody):
        append_event(session, case, event["action"], actor, details=_carried(event, codes))
    return case, len(items), n_findings


def import_bundle(
    ws: Workspace,
    actor: str,
    bundle: Path,
    *,
    on_file: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Check a bundle completely, then add its case to this workspace as a new case.

    `on_file(done, total)` reports progress through the (slow) hashing of the entries."""
    ws.require_writable()
    if bundle.exists() and not bundle.is_file() and not bundle.is_dir():
        # Hashing reads to the end: a pipe waits for a writer forever, /dev/zero never ends.
        raise BundleError(f"{bundle.name} is not a regular file")
    try:
        bundle_sha = sha256_file(bundle)
        zf = zipfile.ZipFile(bundle)
    except FileNotFoundError as exc:
        raise BundleError(f"bundle not found: {bundle}") from exc
    except (OSError, *_CORRUPT_ZIP) as exc:
        raise BundleError(f"{bundle.name} is not a readable zip bundle: {exc}") from exc
    staging = Path(tempfile.mkdtemp(prefix="import-", dir=ws.home))
    try:
        return _import_checked(ws, actor, bundle, zf, staging, bundle_sha, on_file)
    except _CORRUPT_ZIP as exc:
        raise BundleError(f"{bundle.name} is damaged: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _import_checked(
    ws: Workspace,
    actor: str,
    bundle: Path,
    zf: zipfile.ZipFile,
    staging: Path,
    bundle_sha: str,
    on_file: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    with zf:
        entries = _check_entries(zf)
        manifest = _load_json(zf, entries, fmt.MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT:
            raise BundleError(f"{bundle.name} is not a claimcheck bundle")
        if manifest.get("version") != fmt.VERSION:
            raise BundleError(f"bundle format version {manifest.get('version')} unsupported")
        listed = manifest.get("files")
        if not isinstance(listed, dict):
            raise BundleError("manifest lists no files")
        for name, line in listed.items():
            if not (
                isinstance(line, dict)
                and isinstance(line.get("sha256"), str)
                and isinstance(line.get("size"), int)
                and line["size"] >= 0
            ):
                raise BundleError(f"manifest line for {name!r} is malformed")
        for name in (fmt.ROWS, fmt.CUSTODY):
            if name not in listed:
                raise BundleError(f"bundle has no {name}")
            if listed[name]["size"] > fmt.MAX_JSON_BYTES:
                raise BundleError(f"{name} is larger than {fmt.MAX_JSON_BYTES} bytes")
        present = set(entries) - {fmt.MANIFEST}
        if set(listed) != present:
            extra = sorted(present - set(listed))[:3]
            missing = sorted(set(listed) - present)[:3]
            raise BundleError(
                f"manifest and contents differ (unlisted: {extra}, missing: {missing})"
            )
        for n, name in enumerate(sorted(present)):
            info, line = entries[name], listed[name]
            target = staging / f"{n:08d}"
            with open(target, "wb") as fh:
                digest = _read_bounded(zf, info, fh.write, min(info.file_size, line["size"]))
            if digest != line["sha256"] or target.stat().st_size != line["size"]:
                raise BundleError(f"{name} does not match its manifest hash: altered")
            if name.startswith(fmt.ORIGINALS) and digest != name[len(fmt.ORIGINALS) :]:
                raise BundleError(f"{name} does not hash to its name")
            line["staged"] = target
            if on_file is not None:
                on_file(n + 1, len(present))
        try:
            rows = json.loads(listed[fmt.ROWS]["staged"].read_text(encoding="utf-8"))
            custody = json.loads(listed[fmt.CUSTODY]["staged"].read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"bundle records are not valid JSON: {exc}") from exc
    if not isinstance(rows, dict) or not isinstance(custody, list):
        raise BundleError("bundle records have the wrong shape")
    problems = verify_bundle_records(rows, custody)
    if problems:
        raise BundleError(f"bundle records fail custody checks: {problems[0]}")
    for item in rows["items"]:
        if fmt.ORIGINALS + item["sha256"] not in listed:
            raise BundleError(f"item {item['code']}: original missing from the bundle")
    source = {
        "workspace": manifest.get("workspace"),
        "case": rows["case"]["code"],
        "chain_head": custody[-1]["hash"] if custody else GENESIS_HASH,
        "events": len(custody),
        "bundle_sha256": bundle_sha,
        "exported_at": manifest.get("exported_at"),
    }
    with ws.reading() as session:
        previous = _previous_import(session, source["workspace"], source["case"])
    if previous is not None:
        raise BundleError(
            f"case {source['case']} from this bundle's workspace was already imported as {previous}"
        )
    if source["workspace"] == ws.fingerprint:
        raise BundleError(
            f"this bundle was exported from this workspace: case {source['case']} is here"
        )
    _check_values(rows)
    _store_files(ws, listed, _derived_targets(ws, listed))

    def work(session: Session) -> ImportSummary:
        if _previous_import(session, source["workspace"], source["case"]) is not None:
            raise BundleError(f"case {source['case']} was imported meanwhile")
        case, n_items, n_findings = _write_case(session, actor, rows, source, custody)
        return ImportSummary(
            case.code, source["case"], source["workspace"], n_items, n_findings, bundle_sha
        )

    try:
        return ws.run_write(work)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"case.json is malformed: {exc!r}") from exc
    except StatementError as exc:  # a value of the wrong type, or a required one missing
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise BundleError(f"case.json is malformed: {first}") from exc


def _check_values(rows: dict[str, Any]) -> None:
    """Every text, date, number, yes/no and JSON column holds a value of its kind, and a
    required one is present, before anything is stored.

    A bundle's chain can be rebuilt around any value, so the chain checking proves nothing about
    types: a list where a title goes was stored by PostgreSQL as an array literal and made SQLite
    fail mid-import, after the originals had been copied in."""
    groups: list[tuple[str, Any, type[Base]]] = [
        ("case", [rows["case"]], Case),
        ("claim", [rows["claim"]] if rows.get("claim") else [], Claim),
        ("denial", [rows["denial"]] if rows.get("denial") else [], Denial),
        ("site", rows["sites"], Site),
        ("item", rows["items"], EvidenceItem),
        ("link", rows["links"], ItemLink),
        ("attribution", rows.get("attributions", []), ItemAttribution),
        ("frame", rows["frames"], Frame),
        ("verify run", rows["runs"], VerifyRun),
        ("finding", rows["findings"], Finding),
    ]
    for what, group, model in groups:
        if not isinstance(group, list):
            raise BundleError(f"case.json is malformed: its {what} rows are not a list")
        for row in group:
            if not isinstance(row, dict):
                raise BundleError(f"case.json is malformed: a {what} row is not an object")
            for column in model.__table__.columns:
                if column.name in row and not _fits(row[column.name], column):
                    raise BundleError(
                        f"case.json is malformed: {what} {column.name} is not a valid "
                        f"value: {row[column.name]!r:.40}"
                    )


def _fits(value: Any, column: Any) -> bool:
    """Whether a canonical row's value can be stored in `column` (dates and numbers are text
    in canonical rows, see models.canonical)."""
    if value is None:
        return bool(column.nullable)
    shape = _JSON_SHAPES.get((column.table.name, column.name))
    if shape is not None:
        return _fits_json(value, shape)
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return True
    try:
        if kind is str:  # PostgreSQL cannot store NUL, and claimcheck's own commands refuse it
            return isinstance(value, str) and "\x00" not in value
        if kind is date:
            return isinstance(value, str) and bool(date.fromisoformat(value))
        if kind is float:
            return not isinstance(value, bool) and math.isfinite(float(value))
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if kind is bool:
            return isinstance(value, bool)
    except (TypeError, ValueError):
        return False
    return True


# What the canonical rows hold in the JSON columns. The commands that read them back (evidence
# show, findings, report, verify) expect these shapes: a list where an object goes was imported,
# and every one of them then ended in an internal error on the imported case.
_JSON_SHAPES: dict[tuple[str, str], str] = {
    ("evidence_items", "file_metadata"): "object text",
    ("findings", "values"): "object text",
    ("findings", "items"): "list of text",
    ("findings", "artefacts"): "list of text",
    ("frames", "hashes"): "object",
}


def _fits_json(value: Any, shape: str) -> bool:
    try:
        if shape == "object text":
            return isinstance(value, str) and isinstance(json.loads(value), dict)
        if shape == "list of text":
            return isinstance(value, list) and all(isinstance(v, str) for v in value)
        if shape == "object":
            return isinstance(value, dict)
    except ValueError:  # not JSON (RecursionError is a RuntimeError: caught by the caller)
        return False
    return False


def _derived_targets(ws: Workspace, listed: dict[str, Any]) -> dict[str, Path]:
    """Where each carried picture goes, every path checked before any file is stored."""
    targets: dict[str, Path] = {}
    for name in listed:
        if name.startswith(fmt.DERIVED):
            parts = name[len(fmt.DERIVED) :].split("/")
            if len(parts) != 4 or parts[1] != parts[2][:2]:
                raise BundleError(f"bundle entry {name!r} is not a derived-picture path")
            targets[name] = ws.derived.path(parts[0], parts[2], parts[3])
    return targets


def _store_files(ws: Workspace, listed: dict[str, Any], derived: dict[str, Path]) -> None:
    """Store the originals, and the carried pictures this workspace does not have yet.

    A picture already here is kept: derived paths are named by the original's hash, so a bundle
    holding a video this workspace also holds would otherwise replace the keyframes and match
    pictures that another case shows with whatever the bundle carries."""
    for name, line in listed.items():
        if name.startswith(fmt.ORIGINALS):
            ws.blobs.put_file(line["staged"])
        elif name in derived and not derived[name].exists():
            ws.derived.write_relative(name[len(fmt.DERIVED) :], line["staged"].read_bytes())
