"""Worker processes that end with the process that started them.

A `ProcessPoolExecutor` worker waits on its task queue for as long as the queue can still be
written to, and with the spawn start method the workers hold the queue's writing end too: when
the starting process is killed (SIGKILL, an out-of-memory kill, SIGTERM without cleanup), its
workers wait forever, each holding its share of the case's features (~1 GB in a 1,000-frame
case). A watcher thread in each worker ends it once its parent is gone.
"""

from __future__ import annotations

import os
import threading
import time

# How often a worker looks for its parent: an orphan lingers at most this long.
POLL_SECONDS = 1.0


def exit_with_parent(poll_seconds: float = POLL_SECONDS) -> None:
    """Call in a worker process (its pool initializer): exit as soon as the process that
    started it is gone (the worker is then re-parented, so its parent id changes)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                # Nothing of the worker's is worth keeping: results go to the parent only.
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
