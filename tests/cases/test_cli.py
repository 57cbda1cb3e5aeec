"""The CLI end to end in a subprocess: outputs, JSON shapes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def cc(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cases.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_workflow_and_json_shapes(tmp_path: Path, db_url, monkeypatch):
    if db_url is not None:  # the CLI reads CLAIMCHECK_DB; subprocesses inherit it
        monkeypatch.setenv("CLAIMCHECK_DB", db_url)
    home = tmp_path / "ws"
    assert cc(home, "init").returncode == 0
    r = cc(home, "case", "open", "Market strike", "--date", "2019-07-22")
    assert r.returncode == 0
    code = r.stdout.strip()
    assert code == "C-0001"
    assert (
        cc(
            home,
            "site",
            "add",
            code,
            "popular market",
            "--lat",
            "35.64",
            "--lon",
            "36.67",
            "--claimed",
        ).returncode
        == 0
    )
    img = tmp_path / "photo.jpg"
    Image.fromarray((np.random.default_rng(1).random((64, 64, 3)) * 255).astype("uint8")).save(img)
    r = cc(home, "evidence", "add", code, str(img), "--kind", "photo", "--site", "popular market")
    assert r.returncode == 0, r.stderr
    again = cc(home, "evidence", "add", code, str(img), "--kind", "photo")
    assert "already" in again.stderr
    items = json.loads(cc(home, "evidence", "list", code, "--json").stdout)
    assert items["case"] == code and len(items["items"]) == 1
    item = items["items"][0]
    assert {"id", "kind", "sha256", "filename", "media_type", "size", "roles"} <= set(item)
    assert item["media_type"] == "image/jpeg"
    assert set(item["roles"]) == {"site_reference", "other"}
    cases = json.loads(cc(home, "case", "list", "--json").stdout)
    assert cases["cases"][0]["id"] == code
    assert json.loads(cc(home, "findings", code, "--json").stdout)["case"] == code
    assert cc(home, "fsck").returncode == 0


def test_errors_are_one_line_and_nonzero(tmp_path: Path):
    home = tmp_path / "ws"
    r = cc(home, "case", "list")
    assert r.returncode != 0 and "no claimcheck workspace" in r.stderr
    assert "Traceback" not in r.stderr
    cc(home, "init")
    code = cc(home, "case", "open", "T", "--date", "2019-07-22").stdout.strip()
    txt = tmp_path / "fake.jpg"
    txt.write_text("not a picture")
    for args in (
        ("case", "show", "C-0999"),
        ("case", "open", "T", "--date", "22/07/2019"),
        ("site", "add", code, "s", "--lat", "95", "--lon", "0"),
        ("evidence", "add", code, str(tmp_path / "missing.jpg"), "--kind", "photo"),
        ("evidence", "add", code, str(txt), "--kind", "photo"),
    ):
        r = cc(home, *args)
        assert r.returncode != 0, args
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_an_interrupted_command_says_so_on_one_line(tmp_path: Path, capsys, monkeypatch):
    """Ctrl-C inside a command (typer turns it into exit code 130 without a word) is reported
    on stderr with the shell's status for SIGINT."""
    from cases.cli import findings
    from tests.cases.cli_helpers import in_process_cli

    run = in_process_cli(tmp_path / "ws", None, capsys, monkeypatch)
    assert run("init")[0] == 0
    code = run("case", "open", "Strike", "--date", "2020-01-01")[1].strip()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(findings, "run_verify", interrupted)
    status, out, err = run("verify", code)
    assert status == 130 and out == ""
    assert err.startswith("claimcheck: interrupted") and err.count("\n") == 1, err


def test_a_terminated_import_cleans_up_and_says_so(tmp_path: Path, capsys, monkeypatch):
    """SIGTERM ended the process at once (Python's default): an import stopped while checking
    the bundle left its staging copy of every entry in the workspace folder, and said nothing.
    It is now an exception, so cleanup runs, reported with the shell's status for SIGTERM."""
    import os
    import signal

    import numpy as np
    from PIL import Image

    from cases.cli import bundle
    from tests.cases.cli_helpers import in_process_cli

    source = in_process_cli(tmp_path / "src", None, capsys, monkeypatch)
    assert source("init")[0] == 0
    code = source("case", "open", "Strike", "--date", "2020-01-01")[1].strip()
    photo = tmp_path / "p.jpg"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(photo)
    assert source("evidence", "add", code, str(photo), "--kind", "photo")[0] == 0
    assert source("export", code, "-o", str(tmp_path / "b.zip"))[0] == 0

    class TerminatedWhileChecking(bundle.RichProgress):
        def task(self, description: str, total: float | None):
            class Task:
                def advance(self, steps: float = 1) -> None:
                    os.kill(os.getpid(), signal.SIGTERM)

            return Task()

    class Unhandled(Exception):
        pass

    def fallback(_signum, _frame):  # stands in for the default, which would end pytest
        raise Unhandled

    monkeypatch.setattr(bundle, "RichProgress", TerminatedWhileChecking)
    previous = signal.signal(signal.SIGTERM, fallback)
    try:
        target = in_process_cli(tmp_path / "dst", None, capsys, monkeypatch)
        assert target("init")[0] == 0
        status, out, err = target("import", str(tmp_path / "b.zip"))
        assert signal.getsignal(signal.SIGTERM) is fallback  # restored after the command
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert status == 143 and out == ""
    assert err.startswith("claimcheck: terminated") and err.count("\n") == 1, err
    assert not list((tmp_path / "dst").glob("import-*"))
