"""The `claimcheck` command line: the only place that prints.

Library errors become one line on stderr and a non-zero exit; `--json` prints one document.
This module holds the root app, its global options and the entry point; each command group
lives in the module named after it (`case`, `site`, `evidence`...), shared helpers in
`context`, `options`, `output` and `progress`.
"""

from __future__ import annotations

import getpass
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from cases.cli import (
    bundle,
    case,
    claim_denial,
    custody,
    demo,
    evidence,
    findings,
    report,
    search,
    site,
    statement,
)
from cases.cli.context import _state
from cases.cli.output import ShownControls
from cases.errors import CaseError, InputError
from evidence_store.db import default_home, init_workspace
from evidence_store.errors import StoreError
from verify.errors import VerifyError

# Pillow logs plugin chatter (e.g. "STREAM b'IHDR'") through the root logger's last-resort
# handler; stderr is for claimcheck's own messages, and decoding problems reach the user as
# typed errors or recorded metadata problems instead.
logging.getLogger("PIL").addHandler(logging.NullHandler())
logging.getLogger("PIL").propagate = False

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Verify attack claims against official denials: a case store with untouched originals "
    "and a tamper-evident custody log.",
)
for sub, name in (
    (case.case_app, "case"),
    (claim_denial.claim_app, "claim"),
    (claim_denial.denial_app, "denial"),
    (site.site_app, "site"),
    (evidence.evidence_app, "evidence"),
    (statement.statement_app, "statement"),
):
    app.add_typer(sub, name=name)


@app.callback()
def _main(
    home: Annotated[
        Path | None,
        typer.Option(
            envvar="CLAIMCHECK_HOME",
            help="Workspace folder (originals, database, derived pictures); default ./.claimcheck.",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            envvar="CLAIMCHECK_DB",
            help="Database URL for a shared PostgreSQL store (postgresql+psycopg://...); "
            "default the workspace's own SQLite file.",
        ),
    ] = None,
    actor_: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="CLAIMCHECK_ACTOR",
            help="Who is doing this, as the custody log records it; default your login name.",
        ),
    ] = None,
) -> None:
    _state["home"] = home or default_home()
    _state["db"] = db
    try:
        default_actor = getpass.getuser()
    except (KeyError, OSError):
        default_actor = "unknown"
    if actor_ is not None and not actor_.strip():
        # An empty name would silently log the OS user instead of who is doing this.
        raise InputError("--actor is empty: name who is doing this, for the custody log")
    _state["actor"] = actor_ or default_actor


@app.command()
def init() -> None:
    """Create a workspace."""
    w = init_workspace(_state["home"], _state["db"])
    print(f"initialised workspace {w.home} ({w.fingerprint})", file=sys.stderr)


# The other top-level commands live in the modules named after them; `--help` lists them in
# the order registered here.
app.command()(findings.verify)
app.command()(findings.findings)
app.command()(custody.log)
app.command()(custody.fsck)
app.command()(search.search)
app.command()(bundle.export)
app.command("import")(bundle.import_)
app.command()(demo.demo)
app.command()(report.report)


# The shell's exit status for a process stopped by SIGINT (128 + 2).
_INTERRUPTED = 130
# ... and by SIGTERM (128 + 15).
_TERMINATED = 143


class _Terminated(BaseException):
    """SIGTERM as an exception, so cleanup runs. Python's default ends the process at once:
    an import stopped that way left its staging copy of the whole bundle in the workspace
    folder. A BaseException, as KeyboardInterrupt is: no `except Exception` swallows it."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def main() -> None:
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        previous = None
    # Everything printed shows terminal controls instead of obeying them: names and metadata
    # from hostile files reach almost every line (see `output.shown`).
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ShownControls(out), ShownControls(err)
    try:
        _run()
    finally:
        sys.stdout, sys.stderr = out, err
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run() -> None:
    try:
        # Without standalone mode the parser returns a command's `typer.Exit` code instead
        # of exiting with it.
        code = app(standalone_mode=False)
        if code == _INTERRUPTED:
            # Typer turns Ctrl-C inside a command into this exit code instead of raising
            # KeyboardInterrupt, which would leave the run's stop unexplained.
            raise KeyboardInterrupt
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (StoreError, CaseError, VerifyError) as exc:
        print(f"claimcheck: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(
            "claimcheck: interrupted (what was stored before the interruption is kept; run the "
            "command again to finish)",
            file=sys.stderr,
        )
        sys.exit(_INTERRUPTED)
    except _Terminated:
        print(
            "claimcheck: terminated (what was stored before it is kept; run the command again "
            "to finish)",
            file=sys.stderr,
        )
        sys.exit(_TERMINATED)
    except Exception as exc:  # the last line of defence: never a traceback
        # Usage errors from the command-line parser carry their own message and exit code.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            message = exc.format_message().strip() if hasattr(exc, "format_message") else ""
            if message and "\n" not in message:
                print(f"claimcheck: error: {message} (see --help)", file=sys.stderr)
            else:  # no arguments: the parser shows the help text
                exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("CLAIMCHECK_DEBUG"):
            raise
        print(f"claimcheck: internal error: {exc!r}", file=sys.stderr)
        sys.exit(70)
