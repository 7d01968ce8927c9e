"""Failpoints: named places where a test can have the publisher killed, to prove that a
publication interrupted there leaves the store as it was.

Set ``PUBLISHER_FAILPOINT`` to a name (e.g. ``schedule:before-commit``) and the process
kills itself with SIGKILL when it gets there: no exception handler, no ``finally``, no
rollback by Python, exactly like a power cut or the OOM killer. Unset, a failpoint costs
one dictionary lookup. (FoundationDB and TiKV test recovery the same way.)
"""

from __future__ import annotations

import os
import signal


def reached(name: str) -> None:
    if os.environ.get("PUBLISHER_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
