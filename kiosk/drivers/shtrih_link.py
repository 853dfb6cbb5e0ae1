"""The Shtrih-M exchange over a serial port: ENQ/ACK/NAK handshake, resend on NAK, lost answers fetched by ENQ.

A command that may have reached the registrar is never sent again unless the caller says repeating it is
harmless (status questions): a fiscal command whose answer cannot be recovered raises LostReply, and the
caller asks the fiscal drive what happened.
"""

from __future__ import annotations

import logging
import time

from kiosk.drivers import shtrih_frame as sf
from kiosk.drivers.serial_port import PortLost, SerialPort
from kiosk.errors import DeviceError
from kiosk.fiscal.port import LinkDown, LostReply

log = logging.getLogger(__name__)


class ShtrihLink:
    """One registrar on one serial port; `exchange` sends a command and returns its answer."""

    def __init__(self, port: str, baudrate: int = 115200, *, control_timeout: float = 0.5,
                 answer_timeout: float = 20.0, byte_timeout: float = 0.05, attempts: int = 3) -> None:
        self.serial = SerialPort(port, baudrate)
        self.control_timeout = control_timeout  # for ENQ's answer and the ACK of a frame
        self.answer_timeout = answer_timeout  # a printing command may take this long
        self.byte_timeout = byte_timeout  # a frame whose bytes stop for longer is incomplete
        self.attempts = attempts
        self.parser = sf.FrameParser()
        self._buffer = bytearray()
        self.commands_sent = 0  # frames written, resends included (benchmarks report it)

    def close(self) -> None:
        """Release the port; idempotent."""
        self.serial.close()

    def _open(self) -> None:
        if not self.serial.is_open:
            try:
                self.serial.open()
            except DeviceError as exc:
                raise LinkDown(f"cannot open {self.serial.port}: {exc}") from exc

    # ---- bytes

    def _read_byte(self, deadline: float) -> int | None:
        if not self._buffer:
            chunk = self.serial.read(deadline)
            if not chunk:
                return None
            self._buffer += chunk
        return self._buffer.pop(0)

    def _read_control(self, timeout: float) -> int | None:
        """The next ACK or NAK (other bytes between frames are line noise); None on silence."""
        deadline = time.monotonic() + timeout
        while True:
            byte = self._read_byte(deadline)
            if byte is None or byte in (sf.ACK, sf.NAK):
                return byte
            log.debug("registrar: noise byte 0x%02X while waiting for ACK/NAK", byte)

    def _read_frame(self, timeout: float) -> sf.Frame | sf.BadFrame | None:
        """A whole frame: waits up to timeout for STX, then byte_timeout between bytes; None if none came."""
        self.parser.reset()
        deadline = time.monotonic() + timeout
        while True:
            byte = self._read_byte(deadline if not self.parser.pending else time.monotonic() + self.byte_timeout)
            if byte is None:
                if self.parser.pending:
                    log.info("registrar: frame stopped after %d bytes", self.parser.pending)
                    return sf.BadFrame(b"")  # incomplete: ask for it again
                return None
            frames = self.parser.feed(bytes((byte,)))
            if frames:
                return frames[0]

    def _send(self, data: bytes) -> None:
        self.serial.write(data)

    # ---- handshake

    def _settle(self) -> None:
        """Make sure the registrar is idle: ENQ until NAK, taking away an old answer that waits; LinkDown if mute.

        After an ENQ that timed out, its late reply could be taken for the reply to the next byte we send (a NAK
        read as "frame refused, send again"); so a NAK that follows a timeout only counts after the line has
        been quiet for a while and one more ENQ got its NAK in time.
        """
        late = False
        for _ in range(self.attempts + 2):
            self._buffer.clear()
            self.serial.discard_input()
            self._send(bytes((sf.ENQ,)))
            byte = self._read_control(self.control_timeout)
            if byte is None:
                late = True
                continue
            if byte == sf.NAK:
                if not late:
                    return
                late = False
                self._drain()
                continue
            if byte == sf.ACK:
                frame = self._read_frame(self.answer_timeout)
                if isinstance(frame, sf.Frame):
                    self._send(bytes((sf.ACK,)))
                    log.warning("registrar: discarded an answer nobody read (%s)", frame.payload[:3].hex())
                elif frame is not None:
                    self._send(bytes((sf.NAK,)))
        raise LinkDown(f"{self.serial.port}: the registrar does not answer ENQ")

    def _drain(self) -> None:
        """Swallow late replies until the line is quiet for control_timeout; answers that come are ACKed."""
        while True:
            byte = self._read_control(self.control_timeout)
            if byte is None:
                return
            if byte == sf.ACK:
                frame = self._read_frame(self.control_timeout)
                if isinstance(frame, sf.Frame):
                    self._send(bytes((sf.ACK,)))

    def _recover(self, command: int) -> sf.Answer | None:
        """Ask with ENQ for the answer to `command`: the answer, or None if the registrar has none waiting.

        Raises LostReply when the registrar stays silent: the command may or may not have run.
        """
        for _ in range(self.attempts):
            self._buffer.clear()
            self._send(bytes((sf.ENQ,)))
            byte = self._read_control(self.control_timeout)
            if byte == sf.NAK:
                return None
            if byte is None:
                continue
            frame = self._read_frame(self.answer_timeout)
            if isinstance(frame, sf.Frame):
                answer = self._accept(frame)
                if answer is not None and answer.command == command:
                    return answer
                if answer is not None:
                    log.warning("registrar: answer to 0x%X while waiting for 0x%X", answer.command, command)
                    return None
            elif frame is not None:
                self._send(bytes((sf.NAK,)))
        raise LostReply(f"{self.serial.port}: no answer to 0x{command:X}, and ENQ recovers none")

    def _accept(self, frame: sf.Frame) -> sf.Answer | None:
        self._send(bytes((sf.ACK,)))
        try:
            return sf.Answer.parse(frame)
        except ValueError:
            log.warning("registrar: malformed answer %s", frame.payload.hex())
            return None

    # ---- one command

    def exchange(self, command: int, password: int | None, data: bytes = b"", repeatable: bool = False
                 ) -> sf.Answer:
        """Send one command and return its answer (any error code included).

        LinkDown: the command certainly did not run. LostReply: it was delivered (or may have been) and its
        answer is gone. `repeatable` commands (status questions) are sent again instead of raising LostReply.
        """
        self._open()
        frame = sf.request(command, password, data)
        try:
            self._settle()
        except PortLost as exc:
            self.close()
            raise LinkDown(str(exc)) from exc
        try:
            for _ in range(self.attempts + 1):
                answer = self._attempt(frame, command)
                if answer is not None:
                    return answer
                if not repeatable:
                    raise LostReply(f"{self.serial.port}: 0x{command:X} was delivered but its answer is lost")
            raise LostReply(f"{self.serial.port}: 0x{command:X} never answered")
        except PortLost as exc:
            self.close()
            if repeatable:
                raise LinkDown(str(exc)) from exc
            raise LostReply(f"{self.serial.port}: port failed during 0x{command:X}: {exc}") from exc

    def _attempt(self, frame: bytes, command: int) -> sf.Answer | None:
        """One delivery: the answer, or None when the registrar has no answer (the command may have run)."""
        for _ in range(self.attempts + 1):
            self._buffer.clear()
            self._send(frame)
            self.commands_sent += 1
            byte = self._read_control(self.control_timeout)
            if byte == sf.ACK:
                break
            if byte == sf.NAK:
                # Refused (bad LRC) — unless that NAK was a late reply to something earlier. ENQ tells: the
                # registrar handles bytes in order, so an answer waiting now means our frame ran.
                answer = self._recover(command)
                if answer is not None:
                    return answer
                continue  # no answer waiting: the frame was thrown away, sending it again is safe
            return self._recover(command)  # no ACK: it may have got the frame anyway
        else:
            raise LinkDown(f"{self.serial.port}: the registrar refused the frame for 0x{command:X} every time")
        frame_in = self._read_frame(self.answer_timeout)
        if isinstance(frame_in, sf.Frame):
            answer = self._accept(frame_in)
            if answer is not None and answer.command == command:
                return answer
        elif frame_in is not None:
            self._send(bytes((sf.NAK,)))
        return self._recover(command)
