"""Failpoints: named places where a test can have the publisher killed, to prove that a
publication interrupted there leaves the store as it was.

Set ``PUBLISHER_FAILPOINT`` to a name (e.g. ``schedule:before-commit``) and the process
kills itself with SIGKILL when it gets there: no exception handler, no ``finally``, no
rollback by Python, exactly like a power cut or the OOM killer. Unset, a failpoint costs
one dictionary lookup. (FoundationDB and TiKV test recovery the same way.)

A second kind pauses instead: ``PUBLISHER_FAILPOINT=<name>@pause=<path>`` makes the
process, when it gets to `name`, create ``<path>.reached`` and wait (up to
``PUBLISHER_FAILPOINT_TIMEOUT`` seconds, default 60) until ``<path>`` exists, then go on.
The test does whatever it wants meanwhile (terminate the publisher's database session,
fill the disk...) with the publisher inside its open transaction, at a known point.
"""

from __future__ import annotations

import os
import signal
import time


def reached(name: str) -> None:
    point = os.environ.get("PUBLISHER_FAILPOINT")
    if point is None:
        return
    if point == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif point.startswith(name + "@pause="):
        _pause(point.split("@pause=", 1)[1])


def _pause(path: str) -> None:
    with open(path + ".reached", "w"):
        pass
    deadline = time.monotonic() + float(os.environ.get("PUBLISHER_FAILPOINT_TIMEOUT", "60"))
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"failpoint paused at {path}: nobody resumed it")
        time.sleep(0.01)
