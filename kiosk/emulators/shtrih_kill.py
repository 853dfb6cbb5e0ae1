"""A host-killing fault switch for the emulated Shtrih-M: SIGKILL the terminal process at its n-th command.

The kill trials aim at exact moments (FF45, where the drive signs; the Z-report; any n-th command), which only
the registrar sees. "before": the host dies as the command arrives and it never runs; "after": the command ran,
even a signing, and the host dies before reading the answer, which stays pending on the wire. It works the same
in the trial's own process and in a separate `kiosk emulate fiscal` (its `kill-host` control command).
"""

from __future__ import annotations

import os
import signal
import threading

from kiosk.drivers import shtrih_frame as sf
from kiosk.emulators.shtrih import PowerCut
from kiosk.emulators.shtrih_registrar import Registrar

PHASES = ("before", "after")


class KillSwitch:
    """Counts the commands a host process sends and kills it at the chosen one."""

    def __init__(self, registrar: Registrar) -> None:
        self.registrar = registrar
        self._execute = registrar.execute
        registrar.execute = self._counting  # type: ignore[method-assign]
        self.pid = 0
        self.count = 0
        self.target = 0
        self.phase = "before"
        self.only: int | None = None  # count only this command (FF45: aim at the signing itself)
        self.hit: tuple[str, str] | None = None
        self.fired = threading.Event()

    def arm(self, pid: int, target: int, phase: str, only: int | None = None) -> None:
        """Kill process pid at its target-th command (of kind `only`, if given); pid 0 disarms."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}")
        self.pid, self.count, self.target, self.phase, self.hit = pid, 0, target, phase, None
        self.only = only
        self.fired.clear()

    def _counting(self, request: sf.Request) -> tuple[int, bytes]:
        if self.only is not None and request.command != self.only:
            return self._execute(request)
        self.count += 1
        if not self.pid or self.count != self.target:
            return self._execute(request)
        self.hit = (f"{request.command:X}", self.phase)
        if self.phase == "before":
            self._kill()
            raise PowerCut("the host died before the command ran")  # nothing runs, nothing is answered
        try:
            return self._execute(request)
        finally:
            self._kill()

    def _kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.pid = 0
        self.fired.set()
