"""Every CLI command, its error paths and the JSON shape of every read command (issue 2).

Runs `cases.cli.main` in-process (the same entry point the console script calls, including the
mapping of errors to one stderr line and an exit code) so the many calls stay fast; test_cli.py
covers the real subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cases.cli_helpers import in_process_cli

ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"


@pytest.fixture
def cc(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    return in_process_cli(tmp_path / "ws", None, capsys, monkeypatch)


def ok(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0, err
    return out


def fails(result: tuple[int, str, str], *words: str) -> None:
    code, _, err = result
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claimcheck: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def jpeg(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).random((48, 64, 3)) * 255
    Image.fromarray(pixels.astype("uint8")).save(path, "JPEG")
    return path


def test_every_command_and_json_shape(cc, tmp_path: Path, exif_dir: Path):
    fails(cc("case", "list"), "no claimcheck workspace")
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22", "--place", "Town",
                 "--lat", "35.6", "--lon", "36.6", "--summary", "s")).strip()  # fmt: skip
    assert code == "C-0001"
    ok(cc("claim", "set", code, "--text", "strike", "--source", "NGO", "--url",
          "https://example.org/x", "--date", "2019-07-22", "--killed", "12", "--children", "3",
          "--women", "2", "--perpetrator", "air force"))  # fmt: skip
    ref = jpeg(tmp_path / "ref.jpg", 1)
    ok(cc("site", "add", code, "market", "--lat", "35.64", "--lon", "36.67", "--radius", "200",
          "--claimed", "--imagery", str(ref)))  # fmt: skip
    footage = exif_dir / "gps" / "DSCN0010.jpg"
    _, _, err = cc("denial", "set", code, "--by", "Ministry", "--date", "2019-07-23",
                   "--text", "no strike", "--url", "https://mod.example/statement",
                   "--footage", str(footage))  # fmt: skip
    assert err.strip() == "added DSCN0010.jpg as E-000002"  # no progress noise off a terminal
    ok(cc("evidence", "add", code, str(jpeg(tmp_path / "c.jpg", 2)), "--kind", "photo",
          "--role", "supports_claim", "--source", "https://example.org/p", "--collected-by",
          "Team A", "--collected-at", "2019-07-24T10:00+03:00", "--notes", "USB"))  # fmt: skip
    ok(cc("statement", "add", code, "--witness", "Witness A", "--text", "I saw it",
          "--date", "2019-07-24", "--language", "en", "--source", "interview"))  # fmt: skip

    cases = json.loads(ok(cc("case", "list", "--json")))["cases"]
    assert [c["id"] for c in cases] == [code]
    assert {"id", "title", "incident_date", "place", "lat", "lon", "status"} <= set(cases[0])
    shown = json.loads(ok(cc("case", "show", code, "--json")))
    assert shown["sites"][0] == {"name": "market", "lat": 35.64, "lon": 36.67,
                                 "radius_m": 200.0, "claimed": True}  # fmt: skip
    assert shown["claim"] == {"text": "strike", "source": "NGO", "url": "https://example.org/x",
                              "date": "2019-07-22", "killed": 12, "children": 3, "women": 2,
                              "perpetrator": "air force"}  # fmt: skip
    # The denial's URL is where it was published: shown like the claim's.
    assert shown["denial"] == {"by": "Ministry", "date": "2019-07-23", "text": "no strike",
                               "url": "https://mod.example/statement"}  # fmt: skip
    assert shown["items"] == 4
    assert "claim:" in ok(cc("case", "show", code))

    listed = json.loads(ok(cc("evidence", "list", code, "--json")))
    assert listed["case"] == code
    by_id = {i["id"]: i for i in listed["items"]}
    assert [by_id[k]["roles"] for k in sorted(by_id)] == [
        ["site_reference"], ["denial_footage"], ["supports_claim"], ["supports_claim"]
    ]  # fmt: skip
    # Reference imagery names the site it shows (text too).
    assert [by_id[k]["reference_of"] for k in sorted(by_id)] == [["market"], [], [], []]
    assert "reference_of: market" in ok(cc("evidence", "show", "E-000001"))
    assert "reference_of" not in ok(cc("evidence", "show", "E-000002"))
    for i in listed["items"]:
        assert {"id", "kind", "sha256", "filename", "media_type", "size", "roles"} <= set(i)
        assert isinstance(i["size"], int) and len(i["sha256"]) == 64
    claim_photo = by_id["E-000003"]
    assert claim_photo["collected_by"] == "Team A" and claim_photo["notes"] == "USB"
    assert claim_photo["collected_at"] == "2019-07-24T07:00:00.000000Z"
    statement = by_id["E-000004"]
    assert (statement["kind"], statement["source"], statement["witness"]) == (
        "statement", "interview", "Witness A"
    )  # fmt: skip
    assert statement["statement_date"] == "2019-07-24" and statement["language"] == "en"

    item = json.loads(ok(cc("evidence", "show", "E-000002", "--json")))
    assert item["case"] == code and item["filename"] == "DSCN0010.jpg"
    meta = item["metadata"]
    assert meta["capture"]["local"] == "2008-10-22T16:28:39"
    assert meta["make"] == "NIKON" and round(meta["gps"]["lat"], 4) == 43.4674
    text = ok(cc("evidence", "show", "E-000002"))
    assert "  capture:\n    local: 2008-10-22T16:28:39" in text and "model: COOLPIX P6000" in text

    # fsck before verify: on main, fsck does not yet count findings among logged records.
    checked = json.loads(ok(cc("fsck", "--json")))
    assert checked["ok"] is True and checked["problems"] == []
    verified = json.loads(ok(cc("verify", code, "--json")))
    assert verified["case"] == code and verified["findings"]
    found = json.loads(ok(cc("findings", code, "--json")))
    assert found == verified
    for f in found["findings"]:
        assert {"id", "check", "verdict", "items", "values", "detail", "created_at"} <= set(f)
        assert f["verdict"] in ("consistent", "mismatch", "inconclusive")
    assert ok(cc("findings", code)).count("\n") == len(found["findings"])

    events = json.loads(ok(cc("log", code, "--json")))
    assert events["case"] == code
    actions = [e["action"] for e in events["events"]]
    assert actions[0] == "open" and "add" in actions and "verify" in actions
    for prev, e in zip(events["events"], events["events"][1:], strict=False):
        assert e["prev_hash"] == prev["hash"] and e["actor"] == "tester"
        assert re.match(ISO_UTC, e["at"]), e["at"]


def test_error_paths_are_one_line(cc, tmp_path: Path):
    ok(cc("init"))
    code = ok(cc("case", "open", "T", "--date", "2019-07-22")).strip()
    ok(cc("site", "add", code, "market", "--lat", "1", "--lon", "1"))
    empty = tmp_path / "empty.jpg"
    empty.touch()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    photo = jpeg(tmp_path / "p.jpg", 3)
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    for args, words in (
        (("case", "show", "C-0999"), ["C-0999"]),
        (("evidence", "list", "C-0999"), ["C-0999"]),
        (("findings", "C-0999"), ["C-0999"]),
        (("log", "C-0999"), ["C-0999"]),
        (("verify", "C-0999"), ["C-0999"]),
        (("claim", "set", "C-0999", "--text", "t", "--source", "s"), ["C-0999"]),
        (("evidence", "add", "C-0999", str(photo), "--kind", "photo"), ["C-0999"]),
        (("statement", "add", "C-0999", "--witness", "W", "--text", "t"), ["C-0999"]),
        (("evidence", "show", "E-000999"), ["E-000999"]),
        (("evidence", "add", code, str(tmp_path / "missing.jpg"), "--kind", "photo"),
         ["not found"]),
        (("evidence", "add", code, str(empty), "--kind", "photo"), ["empty"]),
        (("evidence", "add", code, str(folder), "--kind", "photo"), ["not a regular file"]),
        (("evidence", "add", code, str(text), "--kind", "photo"), ["not a photo"]),
        (("evidence", "add", code, str(photo), "--kind", "video"), ["not a video"]),
        (("evidence", "add", code, str(photo), "--kind", "sketch"), ["unknown kind"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--site", "nowhere"),
         ["nowhere"]),
        # Only reference imagery goes with a site: claim footage linked to one would become
        # reference imagery of it and confirm itself (audit 1); reference imagery needs one.
        (("evidence", "add", code, str(photo), "--kind", "photo", "--role", "supports_claim",
          "--site", "market"), ["--site goes only with --role site_reference", "supports_claim"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--role", "denial_footage",
          "--site", "market"), ["--role site_reference", "denial_footage"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--role", "other", "--site",
          "market"), ["--role site_reference"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--role", "site_reference"),
         ["--role site_reference needs --site"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--collected-at",
          "yesterday"), ["collection time"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--collected-at",
          "2999-01-01"), ["future"]),
        # A mistyped year would date every copy of the picture before the incident.
        (("evidence", "add", code, str(photo), "--kind", "photo", "--collected-at",
          "1850-01-01"), ["collection time", "before 1990", "check the year"]),
        (("evidence", "add", code, str(photo), "--kind", "photo", "--collected-at",
          "1989-12-31T23:00:00Z"), ["before 1990"]),
        # Valid ISO 8601 whose UTC time is past year 9999 (Python overflowed: internal error).
        (("evidence", "add", code, str(photo), "--kind", "photo", "--collected-at",
          "9999-12-31T23:59:59-05:00"), ["collection time", "out of range"]),
        (("site", "add", code, "s", "--lat", "91", "--lon", "0"), ["latitude"]),
        (("site", "add", code, "s", "--lat", "0", "--lon", "-180.5"), ["longitude"]),
        (("site", "add", code, "s", "--lat", "0", "--lon", "x"), ["--lon"]),
        (("site", "add", code, "s", "--lat", "0", "--lon", "0", "--radius", "0"), ["radius"]),
        (("site", "add", code, "s", "--lat", "0", "--lon", "0", "--imagery", str(text)),
         ["not a photo"]),
        (("case", "open", "T", "--date", "22/07/2019"), ["date"]),
        (("case", "open", "T", "--date", "2019-07-22", "--lat", "-91", "--lon", "0"),
         ["latitude"]),
        (("case", "open", "T"), ["--date"]),
        (("case", "open", "T", "--date", "2999-01-01"), ["incident date", "future"]),
        (("claim", "set", code, "--text", "t", "--source", "s", "--date", "2999-01-01"),
         ["future"]),
        (("denial", "set", code, "--by", "M", "--date", "2999-01-01", "--text", "t"),
         ["future"]),
        (("statement", "add", code, "--witness", "W", "--text", "t", "--date", "2999-01-01"),
         ["future"]),
        (("claim", "set", code, "--text", "t", "--source", "s", "--date", "2019-02-30"),
         ["date"]),
        (("claim", "set", code, "--text", "t", "--source", "s", "--killed", "-1"), ["killed"]),
        (("claim", "set", code, "--text", "t", "--source", "s", "--killed", "many"),
         ["--killed"]),
        (("denial", "set", code, "--by", "M", "--date", "tomorrow", "--text", "t"), ["date"]),
        (("denial", "set", code, "--by", "M", "--date", "2019-07-23", "--text", "t",
          "--footage", str(empty)), ["empty"]),
        (("statement", "add", code, "--witness", "W"), ["--text or --file"]),
        (("--actor", " ", "case", "list"), ["--actor is empty"]),
        (("statement", "add", code, "--witness", "W", "--file", str(photo)), ["UTF-8"]),
        (("statement", "add", code, "--witness", "W", "--text", "t", "--date", "July"),
         ["date"]),
    ):  # fmt: skip
        fails(cc(*args), *words)
    # Nothing of the refused calls reached the store; the workspace is intact.
    assert json.loads(ok(cc("evidence", "list", code, "--json")))["items"] == []
    assert ok(cc("fsck")) == ""


def test_unreadable_file(cc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ok(cc("init"))
    code = ok(cc("case", "open", "T", "--date", "2019-07-22")).strip()
    locked = jpeg(tmp_path / "locked.jpg", 4)
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads a mode-000 file: make the read fail as it would for others
        import cases.ingest

        def refuse(path: Path) -> str:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(cases.ingest, "sniff_media_type", refuse)
    fails(cc("evidence", "add", code, str(locked), "--kind", "photo"), "permission denied")
    assert json.loads(ok(cc("evidence", "list", code, "--json")))["items"] == []


def test_pillow_logging_stays_off_stderr(cc, tmp_path: Path):
    # Pillow logs PNG chunk parsing at DEBUG; with the root logger at DEBUG it would reach stderr.
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        ok(cc("init"))
        code = ok(cc("case", "open", "T", "--date", "2019-07-22")).strip()
        png = tmp_path / "p.png"
        Image.new("RGB", (32, 32), (9, 9, 9)).save(png)
        _, _, err = cc("evidence", "add", code, str(png), "--kind", "photo")
        assert err.strip() == "added p.png as E-000001"
    finally:
        logging.getLogger().setLevel(logging.WARNING)


def test_progress_bars_on_a_terminal(cc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ok(cc("init"))
    code = ok(cc("case", "open", "T", "--date", "2019-07-22")).strip()
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat stderr as a terminal
    imagery = [str(jpeg(tmp_path / f"r{n}.jpg", 10 + n)) for n in range(2)]
    _, out, err = cc("site", "add", code, "m", "--lat", "1", "--lon", "1",
                     "--imagery", imagery[0], "--imagery", imagery[1])  # fmt: skip
    assert out == "" and "adding evidence" in err and "added r1.jpg as E-000002" in err
    _, out, err = cc("denial", "set", code, "--by", "M", "--date", "2019-07-23", "--text", "t",
                     "--footage", str(jpeg(tmp_path / "d.jpg", 20)))  # fmt: skip
    assert out == "" and "adding evidence" in err and "added d.jpg as E-000003" in err


def test_fsck_shows_progress_while_re_hashing(cc, tmp_path: Path, monkeypatch):
    """fsck re-hashes every original (hours on a large store): it must show it is working."""
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    photos = [str(jpeg(tmp_path / f"p{n}.jpg", n)) for n in range(3)]
    ok(cc("evidence", "add", code, *photos, "--kind", "photo"))
    advanced = record_progress(monkeypatch)
    assert json.loads(ok(cc("fsck", "--json")))["blobs_checked"] == 3
    assert advanced == {"re-hashing originals": 3}


def record_progress(monkeypatch) -> dict[str, float]:
    """Replace the CLI's progress bars with one that records how far each task advanced."""
    from cases.cli import bundle, custody, progress, report

    advanced: dict[str, float] = {}

    class Recording(progress.RichProgress):
        def task(self, description: str, total: float | None):
            advanced.setdefault(description, 0)

            class Task:
                def advance(self, steps: float = 1) -> None:
                    advanced[description] += steps

            return Task()

    # Each command module binds the class when imported: replace it in the modules of the
    # commands these tests watch (fsck, import, report).
    for module in (custody, bundle, report):
        monkeypatch.setattr(module, "RichProgress", Recording)
    return advanced


def test_import_shows_progress_while_checking_the_bundle(cc, tmp_path: Path, capsys, monkeypatch):
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    photos = [str(jpeg(tmp_path / f"p{n}.jpg", n)) for n in range(2)]
    ok(cc("evidence", "add", code, *photos, "--kind", "photo"))
    ok(cc("export", code, "-o", str(tmp_path / "bundle.zip")))
    with zipfile.ZipFile(tmp_path / "bundle.zip") as zf:
        entries = len(zf.namelist()) - 1  # all but the manifest are checked against it
    other = in_process_cli(tmp_path / "other", None, capsys, monkeypatch)
    ok(other("init"))
    advanced = record_progress(monkeypatch)
    ok(other("import", str(tmp_path / "bundle.zip")))
    assert advanced == {"checking bundle": entries}


def test_report_and_export_never_write_inside_the_workspace(cc, tmp_path: Path):
    """`-o` naming a stored original or the database (a typo, a tab completion) must not
    overwrite evidence: everything inside the workspace directory is refused, before anything
    is written or logged."""
    import hashlib

    home = tmp_path / "ws"
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    photo = jpeg(tmp_path / "p.jpg", 1)
    ok(cc("evidence", "add", code, str(photo), "--kind", "photo"))
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    [blob] = [p for p in (home / "blobs").rglob("*") if p.is_file() and sha.endswith(p.name)]
    database = home / "claimcheck.db"
    before = {p: p.read_bytes() for p in (blob, database)}
    (tmp_path / "link").symlink_to(home, target_is_directory=True)
    events = len(json.loads(ok(cc("log", code, "--json")))["events"])
    for target in (blob, database, home / "report.html", tmp_path / "link" / "r.html"):
        fails(cc("report", code, "-o", str(target)), "inside the workspace")
        fails(cc("report", code, "--format", "md", "-o", str(target)), "inside the workspace")
        fails(cc("export", code, "-o", str(target)), "inside the workspace")
    assert {p: p.read_bytes() for p in (blob, database)} == before
    assert not (home / "report.html").exists() and not (home / "r.html").exists()
    assert len(json.loads(ok(cc("log", code, "--json")))["events"]) == events  # no export logged
    assert json.loads(ok(cc("fsck", "--json")))["ok"]
    # Beside the workspace is fine.
    ok(cc("report", code, "-o", str(tmp_path / "report.html")))
    ok(cc("export", code, "-o", str(tmp_path / "bundle.zip")))


def test_report_and_export_never_overwrite_the_investigators_copy_of_an_original(
    cc, tmp_path: Path
):
    """`-o` naming the photo the investigator added (outside the workspace: a tab completion
    in the evidence folder) replaced it with a zip or an HTML file without a word."""
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    photo = jpeg(tmp_path / "p.jpg", 1)
    ok(cc("evidence", "add", code, str(photo), "--kind", "photo"))
    before = photo.read_bytes()
    fails(cc("report", code, "-o", str(photo)), "copy of an original")
    fails(cc("export", code, "-o", str(photo)), "copy of an original")
    assert photo.read_bytes() == before
    # Writing over an earlier report or bundle stays allowed.
    for _ in range(2):
        ok(cc("report", code, "-o", str(tmp_path / "report.html")))
        ok(cc("export", code, "-o", str(tmp_path / "bundle.zip")))


def test_report_and_export_never_replace_a_device_or_pipe(cc, tmp_path: Path):
    """Both write a temporary file and rename it into place: `-o` naming a pipe (or, as root,
    `/dev/full`) replaced it with a regular file and reported success."""
    import stat

    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    fails(cc("report", code, "--format", "json", "-o", str(pipe)), "not a regular file")
    fails(cc("export", code, "-o", str(pipe)), "not a regular file")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_log_json_is_enough_to_re_verify_the_chain_without_claimcheck(cc, tmp_path: Path):
    """The report names `claimcheck log CASE --json` as the way to re-verify the custody chain:
    its output must carry every field an event's hash covers, so anyone can recompute it."""
    import hashlib

    ok(cc("init"))
    code = ok(cc("case", "open", "غارة", "--date", "2019-07-22")).strip()
    ok(cc("site", "add", code, "السوق", "--lat", "35.6", "--lon", "36.6", "--claimed"))
    ok(cc("evidence", "add", code, str(jpeg(tmp_path / "p.jpg", 3)), "--kind", "photo"))
    ok(cc("claim", "set", code, "--text", "strike", "--source", "NGO"))
    ok(cc("claim", "set", code, "--replace", "--killed", "3"))
    events = json.loads(ok(cc("log", code, "--json")))["events"]
    previous = "0" * 64
    for e in events:
        payload = {
            "case": code, "seq": e["seq"], "at": e["at"], "actor": e["actor"],
            "action": e["action"], "item_sha256": e["item_sha256"],
            "record_type": e["record_type"], "record_id": e["record"],
            "record_hash": e["record_hash"], "details": e["details"], "prev_hash": e["prev_hash"],
        }  # fmt: skip
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e["prev_hash"] == previous
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == e["hash"], e["action"]
        previous = e["hash"]
    assert any(e["record_type"] == "claim" and e["record_hash"] for e in events)


def test_report_shows_progress_while_re_hashing_originals(cc, tmp_path: Path, monkeypatch):
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    photos = [str(jpeg(tmp_path / f"p{n}.jpg", n)) for n in range(3)]
    ok(cc("evidence", "add", code, *photos, "--kind", "photo"))
    advanced = record_progress(monkeypatch)
    ok(cc("report", code, "--format", "md", "-o", str(tmp_path / "r.md")))
    assert advanced == {"re-hashing originals": 3}
    advanced.clear()
    assert json.loads(ok(cc("report", code, "--format", "json", "-o", "-")))["case"]["id"] == code
    assert advanced == {"re-hashing originals": 3}


@pytest.mark.parametrize("name", ["piazza", "Piazza ", " PIAZZA", "Piazza  "])
def test_site_names_that_would_look_alike_are_refused(cc, name: str):
    """'Piazza', 'piazza' and 'Piazza ' would be three sites that read the same in findings
    ("matches site 'Piazza'") and reports."""
    ok(cc("init"))
    code = ok(cc("case", "open", "Strike", "--date", "2019-07-22")).strip()
    ok(cc("site", "add", code, "Piazza", "--lat", "45.43", "--lon", "12.33"))
    fails(cc("site", "add", code, name, "--lat", "1", "--lon", "1"), "'Piazza'", "look like")
    # Arabic names: the same in composed and decomposed Unicode forms (hamza above alif).
    composed = "سوق أ"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    ok(cc("site", "add", code, composed, "--lat", "35.6", "--lon", "36.6"))
    fails(cc("site", "add", code, decomposed, "--lat", "1", "--lon", "1"), "look like")
    shown = json.loads(ok(cc("case", "show", code, "--json")))
    assert [s["name"] for s in shown["sites"]] == ["Piazza", composed]
    ok(cc("site", "add", code, "Piazza San Marco", "--lat", "45.43", "--lon", "12.33"))


def test_a_verified_case_with_nothing_to_examine_is_not_told_to_run_verify(cc, tmp_path: Path):
    """A case with no footage, verified: "run claimcheck verify" (report) and "no checks
    produced any yet" (findings) sent the investigator round in a circle."""
    ok(cc("init"))
    code = ok(cc("case", "open", "No footage", "--date", "2019-07-22")).strip()
    assert "has not run" in ok(cc("findings", code))
    ok(cc("verify", code))
    out = ok(cc("findings", code))
    assert "found nothing in the case to examine" in out and "yet" not in out
    for fmt in ("md", "html"):
        path = tmp_path / f"r.{fmt}"
        ok(cc("report", code, "--format", fmt, "-o", str(path)))
        text = path.read_text()
        assert "found nothing in the case to examine" in text
        assert f"run {'`' if fmt == 'md' else '<code>'}claimcheck verify" not in text


def test_terminal_controls_in_a_hostile_file_name_are_shown_not_obeyed(cc, tmp_path: Path):
    """A file name from a hostile source reached the terminal raw: clear the screen, return
    to the start of the line and print forged output over it. Controls are now shown as
    `\\u00XX`; `--json` still gives the name exactly as stored."""
    ok(cc("init"))
    code = ok(cc("case", "open", "T", "--date", "2019-07-22")).strip()
    name = "evil\x1b[2J\x1b]0;title\x07\r\x9b2Jadded.jpg"
    photo = jpeg(tmp_path / name, 3)
    _, _, err = cc("evidence", "add", code, str(photo), "--kind", "photo")
    listed = ok(cc("evidence", "list", code))
    for text in (err, listed):
        assert not any(c in text for c in "\x1b\x07\r\x9b"), repr(text)
        assert "evil\\u001b[2J\\u001b]0;title\\u0007\\u000d\\u009b2Jadded.jpg" in text
    assert json.loads(ok(cc("evidence", "list", code, "--json")))["items"][0]["filename"] == name
    _, _, err = cc("evidence", "add", code, str(photo), "--kind", "video")
    assert "\x1b" not in err and "\\u001b[2J" in err
