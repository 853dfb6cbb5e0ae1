"""The receipt printer: prints receipt models over a configured link and reports paper status.

Links are thin wrappers over python-escpos connection classes (serial, USB, network, file). Two-way links
answer status queries: DLE EOT n is real-time (answered at once, even while the printer is stopped), while
GS r 1 is processed in order, after the data before it, so its answer says whether the paper lasted to the
end of the receipt. One-way links (a device file) cannot tell, and say "unknown".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kiosk.drivers.escpos_render import EscposRenderer, PrinterModel, printer_model
from kiosk.drivers.printer_links import PrinterLink
from kiosk.errors import ConfigError, DeviceError, KioskError
from kiosk.receipt import Receipt

log = logging.getLogger(__name__)

DLE_EOT_PRINTER, DLE_EOT_OFFLINE, DLE_EOT_PAPER = b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x04"
GS_R_PAPER = b"\x1dr\x01"

Paper = Literal["ok", "near_end", "out", "unknown"]


# -- status and results are values ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer says about itself; None / "unknown" where the link cannot tell."""

    paper: Paper
    cover_open: bool | None = None
    online: bool | None = None

    @classmethod
    def unknown(cls) -> PrinterStatus:
        """A one-way link: nothing can be known."""
        return cls("unknown")

    @property
    def can_print(self) -> bool:
        """Worth sending a receipt: not known to be out of paper, open or offline."""
        return self.paper != "out" and self.cover_open is not True and self.online is not False

    @property
    def summary(self) -> str:
        """One word for the service menu and heartbeats: ok, near_end, paper_out, cover_open, offline, unknown."""
        if self.cover_open:
            return "cover_open"
        if self.paper == "out":
            return "paper_out"
        if self.online is False:
            return "offline"
        return self.paper  # ok, near_end or unknown


@dataclass(frozen=True, slots=True)
class PrintResult:
    """The outcome of printing one receipt."""

    outcome: Literal["printed", "failed", "incomplete"]
    reason: str = ""
    verified: bool = False  # True when the printer confirmed the paper lasted (two-way links only)

    @property
    def printed(self) -> bool:
        """The payer has the whole receipt (as far as the link can tell)."""
        return self.outcome == "printed"


def decode_paper_dle(byte: int) -> Paper:
    """DLE EOT 4: bits 5-6 paper end, bits 2-3 near end."""
    return "out" if byte & 0x60 else "near_end" if byte & 0x0C else "ok"


def decode_paper_gs_r(byte: int) -> Paper:
    """GS r 1: bits 2-3 paper end, bits 0-1 near end."""
    return "out" if byte & 0x0C else "near_end" if byte & 0x03 else "ok"


def _is_dle_reply(byte: int) -> bool:
    return byte & 0x93 == 0x12  # bits 1 and 4 set, 0 and 7 clear


def _is_gs_r_reply(byte: int) -> bool:
    return byte & 0x90 == 0  # bit 4 clear: cannot be mistaken for a late DLE EOT reply


JOB_TIMEOUT = 20.0  # seconds a whole receipt may take before the printer must confirm its end
STATUS_TIMEOUT = 1.0  # seconds for one real-time status answer
_MODEL_OPTIONS = {"columns", "dots", "code_page", "code_page_number", "qr", "qr_module", "cut"}


class ReceiptPrinter:
    """Prints receipt models on one printer and reports its status.

    Link faults are reported as outcomes too (failed if nothing was sent, incomplete if part was): either
    way the caller journals that the payer has no whole receipt, and only this class knows which it was.
    """

    def __init__(self, link: PrinterLink, model: PrinterModel | str = "generic-80-42", *,
                 job_timeout: float = JOB_TIMEOUT, status_timeout: float = STATUS_TIMEOUT,
                 blocks_per_check: int = 8) -> None:
        self.link = link
        self.model = printer_model(model) if isinstance(model, str) else model
        self.renderer = EscposRenderer(self.model)
        self.job_timeout, self.status_timeout = job_timeout, status_timeout
        self.blocks_per_check = max(blocks_per_check, 1)

    @classmethod
    def from_config(cls, link_name: str, options: Mapping[str, Any], file: str = "") -> ReceiptPrinter:
        """From config.printer (Part.kind, Part.options): link options plus model and model overrides."""
        from kiosk.registry import PRINTER_LINKS, load

        where = "devices.printer"
        opts = dict(options)
        model_name = str(opts.pop("model", "generic-80-42"))
        overrides = {k: opts.pop(k) for k in list(opts) if k in _MODEL_OPTIONS}
        job_timeout = float(opts.pop("job_timeout", JOB_TIMEOUT))
        status_timeout = float(opts.pop("status_timeout", STATUS_TIMEOUT))
        try:
            model = printer_model(model_name, **overrides)
        except ValueError as exc:
            raise ConfigError(file, f"{where}.model", str(exc)) from exc
        try:
            link_cls = load("printer link", PRINTER_LINKS, link_name)
        except KioskError as exc:
            raise ConfigError(file, f"{where}.link", str(exc)) from exc
        try:
            link = link_cls(**opts)
        except (TypeError, ValueError) as exc:
            raise ConfigError(file, where, f"bad options for the {link_name!r} link: {exc}") from exc
        return cls(link, model, job_timeout=job_timeout, status_timeout=status_timeout)

    def render(self, receipt: Receipt) -> bytes:
        """The exact bytes print_receipt sends (for journaling or a golden test)."""
        return self.renderer.render(receipt)

    def close(self) -> None:
        """Release the link."""
        self.link.close()

    # -- status -------------------------------------------------------------------------------------------
    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1, 2, 4); unknown on a one-way link, offline if it does not answer."""
        if not self.link.two_way:
            return PrinterStatus.unknown()
        try:
            printer = self.link.query(DLE_EOT_PRINTER, _is_dle_reply, self.status_timeout)
            if printer is None:
                return PrinterStatus("unknown", online=False)
            offline = self.link.query(DLE_EOT_OFFLINE, _is_dle_reply, self.status_timeout)
            paper = self.link.query(DLE_EOT_PAPER, _is_dle_reply, self.status_timeout)
        except DeviceError as exc:
            log.warning("printer status: %s", exc)
            return PrinterStatus("unknown", online=False)
        return PrinterStatus(
            paper=decode_paper_dle(paper) if paper is not None else "unknown",
            cover_open=bool(offline & 0x04) if offline is not None else None,
            online=not printer & 0x08,
        )

    # -- printing -----------------------------------------------------------------------------------------
    def print_receipt(self, receipt: Receipt) -> PrintResult:
        """Print one receipt: printed, failed(reason) with nothing sent, or incomplete (paper ran out …)."""
        before = self.status()
        if not before.can_print:
            return PrintResult("failed", before.summary)
        segments = self.renderer.segments(receipt)
        sent = 0
        try:
            for start in range(0, len(segments), self.blocks_per_check):
                self.link.write(b"".join(segments[start:start + self.blocks_per_check]))
                sent += 1
                if self.link.two_way and start + self.blocks_per_check < len(segments):
                    # Real-time check between parts: stop feeding a printer whose roll has just run out.
                    paper = self.link.query(DLE_EOT_PAPER, _is_dle_reply, self.status_timeout)
                    if paper is not None and decode_paper_dle(paper) == "out":
                        self._end_job(segments[-1])
                        return PrintResult("incomplete", "paper ran out while printing")
            if not self.link.two_way:
                return PrintResult("printed")
            return self._confirm()
        except DeviceError as exc:
            log.warning("printing receipt %s/%s: %s", receipt.terminal, receipt.number, exc)
            return PrintResult("incomplete" if sent else "failed", str(exc))

    def _end_job(self, cut: bytes) -> None:
        # The rest of the receipt is not sent, but the cut is: what a new roll prints next starts clean.
        try:
            self.link.write(cut)
        except DeviceError as exc:
            log.warning("cutting an incomplete receipt: %s", exc)

    def _confirm(self) -> PrintResult:
        # GS r waits in the queue behind the receipt, so its answer comes once the receipt is out.
        done = self.link.query(GS_R_PAPER, _is_gs_r_reply, self.job_timeout)
        if done is not None:
            if decode_paper_gs_r(done) == "out":
                return PrintResult("incomplete", "paper ran out while printing")
            return PrintResult("printed", verified=True)
        # No answer: a stopped printer holds GS r in its queue, but still answers in real time.
        paper = self.link.query(DLE_EOT_PAPER, _is_dle_reply, self.status_timeout)
        if paper is None:
            return PrintResult("incomplete", "printer stopped answering while printing")
        if decode_paper_dle(paper) == "out":
            return PrintResult("incomplete", "paper ran out while printing")
        return PrintResult("printed", "printer did not confirm the end of the receipt")
