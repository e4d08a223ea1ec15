"""Keep MD worker processes from outliving the command that started them.

A batch scheduler or ``kill`` stops the parent with SIGTERM, which does not reach the pool's
workers; without this guard they would go on simulating as orphans. Runs resume from their last
OpenMM checkpoint, so a worker that stops this way loses at most the frames since then.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """Pool initializer: end this process soon after ``parent`` (the pid that started it) is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
