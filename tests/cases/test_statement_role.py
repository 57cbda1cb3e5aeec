"""A witness statement is not always claim evidence: `statement add --role other` records a
witness for the denial (or for neither side) as such, in the item, the log and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cases.cli_helpers import in_process_cli


@pytest.fixture
def cc(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    return in_process_cli(tmp_path / "ws", None, capsys, monkeypatch)


def _roles(cc, item: str) -> list[str]:
    code, out, err = cc("evidence", "show", item, "--json")
    assert code == 0, err
    return json.loads(out)["roles"]


def test_statement_role_is_recorded_and_reported(cc, tmp_path: Path) -> None:
    assert cc("init")[0] == 0
    case = cc("case", "open", "Strike", "--date", "2019-07-22")[1].strip()
    said = "Nothing happened at the market that day."
    code, _, err = cc("statement", "add", case, "--witness", "Resident", "--text", said,
                      "--role", "other")  # fmt: skip
    assert code == 0, err
    code, _, err = cc("statement", "add", case, "--witness", "Nurse",
                      "--text", "We treated twelve wounded from the market.")  # fmt: skip
    assert code == 0, err
    assert _roles(cc, "E-000001") == ["other"]
    assert _roles(cc, "E-000002") == ["supports_claim"]  # the default is unchanged
    code, out, err = cc("report", case, "--format", "json", "-o", "-")
    assert code == 0, err
    roles = {i["id"]: [r["role"] for r in i["roles"]] for i in json.loads(out)["items"]}
    assert roles == {"E-000001": ["other"], "E-000002": ["supports_claim"]}


@pytest.mark.parametrize("role", ["denial_footage", "site_reference", "witness"])
def test_a_statement_is_neither_footage_nor_imagery(cc, role: str) -> None:
    assert cc("init")[0] == 0
    case = cc("case", "open", "Strike", "--date", "2019-07-22")[1].strip()
    code, out, err = cc("statement", "add", case, "--witness", "W", "--text", "words",
                        "--role", role)  # fmt: skip
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claimcheck: error:"), err
    assert "supports_claim or other" in err
    assert cc("evidence", "list", case, "--json")[1].count('"id"') == 0
