"""A Shtrih-M fiscal registrar on a pseudo-terminal: the ENQ/ACK/NAK handshake and the wire's faults.

Answers wait for the host's ACK: an ENQ gets ACK and the same answer again until then, so a driver recovers a
lost answer without resending the command. Fault switches: answers lost on the wire (`lose_replies`), a power
cut before or after the next fiscal document is written (`power_cut`), plus WireDevice's line faults; the
registrar's own switches (paper, clock, drive full) live in kiosk.emulators.shtrih_registrar.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from kiosk.drivers import shtrih_frame as sf
from kiosk.emulators.shtrih_drive import DEFAULT_FN, FiscalDrive
from kiosk.emulators.shtrih_registrar import Registrar
from kiosk.emulators.wire_emulator import PtyEmulator

INTER_BYTE_TIMEOUT = 0.05  # a frame that stalls longer than this is dropped


class PowerCut(Exception):
    """The emulated registrar lost power in the middle of a command."""


class ShtrihEmulator(PtyEmulator):
    """The device side of a Shtrih-M registrar on a pty; control methods return a one-line outcome."""

    def __init__(self, state_file: str | os.PathLike | None = None, printout: str | os.PathLike | None = None,
                 link: str | None = None, tz: ZoneInfo | None = None,
                 on_power_cut: Callable[[], None] | None = None, fn_number: str = DEFAULT_FN) -> None:
        super().__init__(link)
        self.registrar = Registrar(FiscalDrive(state_file, tz, fn_number), printout)
        self.registrar.before_document = lambda: self._maybe_cut("before")
        self.registrar.after_document = lambda: self._maybe_cut("after")
        self.parser = sf.FrameParser()
        self.pending: bytes | None = None  # the last answer, until the host ACKs it
        self.lose_replies = 0  # answers executed but never put on the wire
        self.corrupt_requests = 0  # host frames damaged on the way in (the registrar answers NAK)
        self.corrupt_answers = 0  # answers sent with a wrong LRC (the host NAKs, then ENQ fetches them again)
        self.truncate_answers = 0  # answers cut short on the wire (the host's inter-byte timeout catches them)
        self.power_cut: str | None = None  # "before" | "after": cut power around the next fiscal document
        self.powered = True
        self.on_power_cut = on_power_cut  # the CLI dies for real (os._exit); in-process it just goes dark
        self.commands = 0  # frames executed (benchmarks count them)
        self._last_byte = 0.0

    # ---- WireHandler

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes from the host: control bytes between frames, or a frame."""
        if not self.powered:
            return []
        self._last_byte = time.monotonic()
        out: list[bytes] = []
        for index in range(len(data)):
            byte = data[index]
            if self.parser.pending == 0 and byte != sf.STX:
                out.extend(self._control(byte))
                continue
            for frame in self.parser.feed(data[index:index + 1]):
                out.extend(self._frame(frame))
            self.parser.take_noise()
        return out

    def tick(self) -> None:
        """Drop a frame whose bytes stopped coming (inter-byte timeout)."""
        if self.parser.pending and time.monotonic() - self._last_byte > INTER_BYTE_TIMEOUT:
            self.parser.reset()

    def _control(self, byte: int) -> list[bytes]:
        if byte == sf.ENQ:
            if self.pending is None:
                return [bytes((sf.NAK,))]
            return [bytes((sf.ACK,)), self._damaged(self.pending)]
        if byte == sf.ACK:
            self.pending = None  # the host has the answer
        return []  # NAK: the host will ENQ for the answer again; anything else is line noise

    def _damaged(self, answer: bytes) -> bytes:
        """The answer as the line delivers it (a fault switch may damage it)."""
        if self.corrupt_answers:
            self.corrupt_answers -= 1
            return answer[:-1] + bytes((answer[-1] ^ 0xA5,))
        if self.truncate_answers:
            self.truncate_answers -= 1
            return answer[:len(answer) // 2]
        return answer

    def _frame(self, frame: sf.Frame | sf.BadFrame) -> list[bytes]:
        if self.corrupt_requests and isinstance(frame, sf.Frame):
            self.corrupt_requests -= 1
            frame = sf.BadFrame(frame.payload)
        if isinstance(frame, sf.BadFrame):
            return [bytes((sf.NAK,))]
        try:
            request = sf.Request.parse(frame)
        except ValueError:
            return [bytes((sf.NAK,))]
        self.pending = None
        self.commands += 1
        try:
            error, data = self.registrar.execute(request)
        except PowerCut:
            return []  # died with the command: no ACK, no answer, memory gone
        self.pending = sf.reply(request.command, error, data)
        if self.lose_replies:
            self.lose_replies -= 1
            return [bytes((sf.ACK,))]
        return [bytes((sf.ACK,)), self._damaged(self.pending)]

    def _maybe_cut(self, moment: str) -> None:
        if self.power_cut != moment:
            return
        self.power_cut = None
        if self.on_power_cut is not None:
            self.on_power_cut()
        self.powered = False
        self.pending = None
        raise PowerCut(moment)

    # ---- control

    def power_on(self) -> str:
        """Power comes back: the registrar restarts from its state file."""
        with self.lock:
            self.registrar.power_up()
            self.parser.reset()
            self.pending = None
            self.powered = True
        return "ok power on"

    def status(self) -> dict:
        """The registrar's state for the control line."""
        with self.lock:
            return {"protocol": "shtrih", **self.registrar.status(), "powered": self.powered,
                    "answer_pending": self.pending is not None, "commands": self.commands}
