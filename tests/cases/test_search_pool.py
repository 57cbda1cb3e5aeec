"""The same-picture search of a verify run with its alignments on worker processes gives the
one-process search's findings and alignment cache, byte for byte: with workers, when they die,
and when a re-run adds one item."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from pathlib import Path

import pytest

import cases.align_workers as workers_module
import cases.checks.duplicates as duplicates_module
import cases.checks.recycled_footage as recycled_module
import cases.checks.same_pictures as same_pictures_module
import cases.search_pool as pool_module
from cases import workflow
from cases.anchor_votes import VOTES_NAMESPACE
from cases.checks.duplicates import DuplicatesCheck
from cases.checks.recycled_footage import RecycledFootageCheck
from cases.ingest import LinkSpec, add_evidence
from cases.search import ALIGNMENTS_NAMESPACE
from cases.search_pool import SearchReport
from cases.verification import run_verify
from evidence_store.db import Workspace, init_workspace, open_workspace
from tests.cases.test_same_pictures import _crop, _save
from verify.media import load_image


def _build(home: Path, scratch: Path, sites_dir: Path) -> str:
    """Copies of two pictures (crops, a mirrored one) among neighbouring views of one building:
    pairs that align, pairs that do not, and pairs seen from both sides. Returns the case code."""
    ws = init_workspace(home)
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2020, 1, 1)).code
    castle = sites_dir / "ettlingen_castle"
    church = load_image(sites_dir / "herz_jesu_church" / "0000.jpg")
    picture = load_image(castle / "0003.jpg")
    files = [
        castle / "0002.jpg",
        castle / "0003.jpg",
        castle / "0004.jpg",
        _save(scratch / "crop_a.jpg", _crop(picture, 0.12, 0.1, "MINISTRY")),
        _save(scratch / "crop_b.jpg", _crop(picture, 0.2, 0.05, "OFFICIAL")),
        _save(scratch / "mirror.jpg", _crop(picture, 0.1, 0.1, "TV")[:, ::-1].copy()),
        sites_dir / "herz_jesu_church" / "0000.jpg",
        _save(scratch / "church.jpg", _crop(church, 0.15, 0.12, "NEWS")),
    ]
    add_evidence(ws, "t", code, files, kind="photo", links=[LinkSpec("denial_footage")])
    ws.engine.dispose()
    return code


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, sites_dir: Path) -> tuple[Path, str]:
    """One workspace, copied for each run: the runs compared have the same ingest times (which
    findings' details quote) and the same store."""
    root = tmp_path_factory.mktemp("template")
    return root / "ws", _build(root / "ws", root, sites_dir)


def _workspace(template: tuple[Path, str], home: Path) -> tuple[Workspace, str]:
    shutil.copytree(template[0], home)
    return open_workspace(home), template[1]


def _one_process_per_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search as it was before workers: `same_pictures` asked item by item."""

    def item_by_item(ctx, items, on_item=None) -> SearchReport:
        for item in items:
            same_pictures_module.same_pictures(ctx, item)
            if on_item is not None:
                on_item()
        return SearchReport()

    monkeypatch.setattr(duplicates_module, "search_items", item_by_item)
    monkeypatch.setattr(recycled_module, "search_items", item_by_item)


def _reports(monkeypatch: pytest.MonkeyPatch) -> list[SearchReport]:
    """The reports of the searches run from now on."""
    reports: list[SearchReport] = []
    real = same_pictures_module.search_stored

    def reporting(*args, **kwargs) -> SearchReport:
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(same_pictures_module, "search_stored", reporting)
    return reports


def _always_workers(monkeypatch: pytest.MonkeyPatch) -> list[SearchReport]:
    """Workers from the first query on, however few the alignments; the searches' reports."""
    monkeypatch.setattr(pool_module, "MIN_PAIRS_FOR_WORKERS", 0)
    monkeypatch.setattr(pool_module, "MIN_QUERIES_FOR_ESTIMATE", 0)
    monkeypatch.setattr(pool_module, "CHUNK", 2)
    return _reports(monkeypatch)


def _run(ws: Workspace, code: str) -> tuple[list[tuple[str, str, tuple[str, ...], str]], dict]:
    """The findings and every cached alignment and vote file."""
    out = run_verify(ws, "t", code, checks=[RecycledFootageCheck(), DuplicatesCheck()])
    findings = sorted((f.check, f.verdict, tuple(f.items), f.detail) for f in out.findings)
    files = {}
    for namespace in (ALIGNMENTS_NAMESPACE, VOTES_NAMESPACE):
        for path in sorted((ws.derived.root / namespace).rglob("*.json")):
            files[path.relative_to(ws.derived.root).as_posix()] = path.read_bytes()
    return findings, files


@pytest.fixture()
def serial(tmp_path: Path, template: tuple[Path, str]) -> tuple[list, dict]:
    """The one-process search's findings and cache files on a fresh workspace."""
    with pytest.MonkeyPatch.context() as mp:
        _one_process_per_item(mp)
        ws, code = _workspace(template, tmp_path / "serial")
        return _run(ws, code)


def test_workers_give_the_one_process_findings_and_cache(serial, tmp_path, template, monkeypatch):
    reports = _always_workers(monkeypatch)
    ws, code = _workspace(template, tmp_path / "parallel")
    findings, files = _run(ws, code)
    assert any(r.in_workers for r in reports) and not any(r.fell_back for r in reports)
    assert sum(r.here for r in reports) == 0
    assert any(name.startswith(ALIGNMENTS_NAMESPACE) for name in files)
    assert any(check == "duplicates" for check, *_ in findings)
    assert (findings, files) == serial


def test_below_the_threshold_everything_stays_in_this_process(
    serial, tmp_path, template, monkeypatch
):
    reports = _reports(monkeypatch)
    ws, code = _workspace(template, tmp_path / "small")
    assert _run(ws, code) == serial
    assert not any(r.workers_started for r in reports)
    assert sum(r.here for r in reports) > 0


class _DyingPool:
    """A pool whose first task is done (in this process) and whose worker then dies."""

    def __init__(self, *args, initargs=(), **kwargs) -> None:
        self._source = initargs[0]
        self.tasks = 0
        workers_module._features.cache_clear()

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        self.tasks += 1
        if self.tasks == 1:
            workers_module._source = self._source
            future.set_result(fn(*args))
        else:
            future.set_exception(BrokenProcessPool("a worker died"))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def test_when_workers_die_this_process_finishes_with_the_same_results(
    serial, tmp_path, template, monkeypatch
):
    reports = _always_workers(monkeypatch)
    monkeypatch.setattr(workers_module, "ProcessPoolExecutor", _DyingPool)
    monkeypatch.setattr(workers_module, "_source", None)
    ws, code = _workspace(template, tmp_path / "dying")
    assert _run(ws, code) == serial
    assert any(r.fell_back for r in reports)
    assert sum(r.in_workers for r in reports) > 0 and sum(r.here for r in reports) > 0


def test_when_workers_cannot_start_this_process_does_the_work(
    serial, tmp_path, template, monkeypatch
):
    reports = _always_workers(monkeypatch)

    def refuse(*args, **kwargs):
        raise OSError("no more processes")

    monkeypatch.setattr(workers_module, "ProcessPoolExecutor", refuse)
    ws, code = _workspace(template, tmp_path / "refused")
    assert _run(ws, code) == serial
    assert any(r.fell_back for r in reports) and sum(r.in_workers for r in reports) == 0


def test_a_new_item_with_workers_aligns_only_its_pairs(tmp_path, template, sites_dir, monkeypatch):
    ws, code = _workspace(template, tmp_path / "ws")
    _run(ws, code)
    before = _cached_keys(ws)
    reports = _always_workers(monkeypatch)
    church = load_image(sites_dir / "herz_jesu_church" / "0000.jpg")
    new = _save(tmp_path / "church_b.jpg", _crop(church, 0.2, 0.05, "BREAKING"))
    (added,) = add_evidence(ws, "t", code, [new], kind="photo", links=[LinkSpec("denial_footage")])
    _run(ws, code)
    after = _cached_keys(ws)
    gained = {q: after[q] - before.get(q, set()) for q in after}
    made = sum(r.in_workers + r.here for r in reports)
    assert made == sum(len(keys) for keys in gained.values()) > 0
    for q, keys in gained.items():
        assert q == added.sha256 or all(key.startswith(added.sha256) for key in keys)


def _cached_keys(ws: Workspace) -> dict[str, set[str]]:
    """Cached alignment keys per query picture (SHA-256)."""
    root = ws.derived.root / ALIGNMENTS_NAMESPACE
    return {p.parent.name: set(json.loads(p.read_text())) for p in root.rglob("*.json")}


class _Recorder:
    """Progress that records each task's total and steps."""

    def __init__(self) -> None:
        self.tasks: dict[str, list[int | None]] = {}

    def task(self, description: str, total: int | None) -> _Task:
        self.tasks[description] = [total, 0]
        return _Task(self.tasks[description])


class _Task:
    def __init__(self, state: list[int | None]) -> None:
        self._state = state

    def advance(self, steps: int = 1) -> None:
        done = self._state[1]
        assert done is not None
        self._state[1] = done + steps


def test_progress_counts_every_item_once_with_workers(tmp_path, template, monkeypatch):
    reports = _always_workers(monkeypatch)
    ws, code = _workspace(template, tmp_path / "ws")
    progress = _Recorder()
    run_verify(ws, "t", code, checks=[RecycledFootageCheck(), DuplicatesCheck()], progress=progress)
    assert any(r.in_workers for r in reports)
    for name in ("recycled footage", "duplicates"):
        total, done = progress.tasks[name]
        assert total == done == 8


class _DiesInWorker:
    """Stands for the picture source; a worker process that receives it exits at once."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (3,))


def test_when_real_workers_die_this_process_finishes_with_the_same_results(
    serial, tmp_path, template, monkeypatch
):
    reports = _always_workers(monkeypatch)
    monkeypatch.setattr(same_pictures_module, "PictureSource", lambda *args: _DiesInWorker())
    ws, code = _workspace(template, tmp_path / "killed")
    assert _run(ws, code) == serial
    assert any(r.workers_started and r.fell_back for r in reports)
    assert sum(r.in_workers for r in reports) == 0
