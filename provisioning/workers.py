"""`kiosk-dealer serve --workers N`: N server processes forked from one after the link's TLS context is made, so
they share its session-ticket keys — a terminal that reconnects resumes its TLS session with whichever process the
kernel hands the connection to (SO_REUSEPORT), where separately started processes would each refuse the others'
tickets and make it a full mutual-TLS handshake. The CLI asks for one process more, which runs only the periodic
jobs (provisioning.periodic.run_periodic_process). The parent only forwards signals and waits."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
from collections.abc import Callable
from types import FrameType

from provisioning.server import link_tls
from provisioning.settings import Settings


def serve_forked(settings: Settings, count: int, run: Callable[[int, ssl.SSLContext], None]) -> int:
    """Fork `count` processes, each calling run(its index, the shared link TLS); their worst exit code."""
    shared = link_tls(settings)  # before any fork (and before any thread: a fork copies only the caller's)
    children: list[int] = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:  # the child never returns into the parent's code
            code = 1
            try:
                run(index, shared)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    worst = 0
    for child in children:
        _, status = os.waitpid(child, 0)
        worst = max(worst, abs(os.waitstatus_to_exitcode(status)))
    return worst
