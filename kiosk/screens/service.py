"""The service menu (after the PIN): device status, cassette, queues, test print and validator, gateways, themes."""

from __future__ import annotations

import logging
import math
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import Screen
from kiosk.screens.frame import Nav, heading, standard, take_top
from kiosk.screens.i18n import translations
from kiosk.screens.panels import Table
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.touch import cells
from kiosk.screens.widgets import Button, Group, Label
from kiosk.session import SessionView

log = logging.getLogger(__name__)

SECTION, DO, EXIT, MENU_ACTION = "section:", "do:", "service-exit", "service-menu"
MENU = "menu"
SECTIONS: dict[str, Msg] = {
    "status": Msg("Device status"), "cassette": Msg("Cassette"), "encashment": Msg("Encashment"),
    "waiting": Msg("Waiting operations"), "attention": Msg("Needs attention"), "print": Msg("Test print"),
    "validator": Msg("Test validator"), "gateways": Msg("Gateways"), "reprint": Msg("Reprint last receipt"),
    "theme": Msg("Theme"), "restart": Msg("Restart"),
}
PRINTER_WORDS = {"ok": Msg("Working"), "near_end": Msg("Paper low"), "paper_out": Msg("Paper out"),
                 "cover_open": Msg("Cover open"), "offline": Msg("Not connected"), "unknown": Msg("Unknown")}
BREAKER_WORDS = {"closed": Msg("Online"), "open": Msg("Offline"), "half-open": Msg("Checking")}
RECEIPT_WORDS = {"printed": Msg("Printed"), "failed": Msg("Not printed"), "incomplete": Msg("Printed in part"),
                 "not_printed": Msg("No printer"), "none": Msg("No receipt printed since the start")}


class ServiceScreen(Screen):
    """A grid of sections at the top, the chosen section's figures below; Exit in the footer."""

    states = ("service",)
    name = "service"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.page = MENU  # the menu of sections, or the open section's own page
        self.section = "status"
        self.result: TextLike = ""  # what the last test or reprint did
        self.confirming = False
        self.rows: list[tuple[TextLike, TextLike]] = []
        self.fault: str | None = ctx.terminal.view().fault  # the device fault the session reports
        self.refresh()

    def key(self, view: SessionView) -> Any:
        """The section's figures are read when it is opened; the session's state and fault matter too."""
        if view.fault != self.fault:
            self.fault = view.fault
            self.refresh()
        return view.state, view.fault, view.waiting

    # -- figures ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the figures of the open section (device I/O happens here, not on every frame)."""
        try:
            self.rows = getattr(self, f"_rows_{self.section}")()
        except Exception as exc:  # a broken device must not take the service menu down with it
            log.exception("service section %s", self.section)
            self.rows = [(Msg("Fault"), f"{type(exc).__name__}: {exc}")]

    def _rows_status(self) -> list[tuple[TextLike, TextLike]]:
        port, config = self.ctx.terminal.service, self.ctx.terminal.config
        devices = port.devices()
        fault = self.fault
        validator: TextLike = Msg("Fault: {fault}", fault=fault) if fault else (
            Msg("Working") if devices.validator_online else Msg("Not connected"))
        count, total = devices.waiting
        online = sum(state == "closed" for state in devices.gateways.values())
        return [(Msg("Bill validator"), validator), (Msg("Receipt printer"), self._printer_word(devices.printer)),
                (Msg("Gateways"), Msg("{online} of {total} online", online=online, total=len(devices.gateways))),
                (Msg("Waiting operations"), f"{count} · {self.ctx.money(total)}"),
                (Msg("Needs attention"), str(devices.attention)),
                (Msg("Terminal number"), config.terminal), (Msg("Terminal address"), config.address)]

    @staticmethod
    def _printer_word(summary: str | None) -> TextLike:
        return PRINTER_WORDS.get(summary, Msg("Unknown")) if summary is not None else Msg("Not connected")

    def _rows_cassette(self) -> list[tuple[TextLike, TextLike]]:
        counts = self.ctx.terminal.service.cassette()
        rows: list[tuple[TextLike, TextLike]] = [
            (self.ctx.money(value), Msg("{count} pcs", count=counts[value])) for value in sorted(counts)]
        rows.append((Msg("Total in the cassette"), self.ctx.money(sum(v * n for v, n in counts.items()))))
        rows.append((Msg("Banknotes"), str(sum(counts.values()))))
        rows.append(("", Msg("Since the last encashment, from the journal")))
        return rows

    def _rows_encashment(self) -> list[tuple[TextLike, TextLike]]:
        port = self.ctx.terminal.service
        counts = port.cassette()
        rows: list[tuple[TextLike, TextLike]] = [
            (Msg("Total in the cassette"), self.ctx.money(sum(v * n for v, n in counts.items())))]
        rows += [(f"№ {r['id']}", f"{r['closed_at'][:16].replace('T', ' ')} · {self.ctx.money(r['total'])} · "
                  f"{r['bill_count']} · {r['reason']}") for r in port.encashments(limit=8)]
        return rows

    def _rows_waiting(self) -> list[tuple[TextLike, TextLike]]:
        ops = self.ctx.terminal.service.operations("committed", limit=20)
        if not ops:
            return [(Msg("Waiting operations"), "0")]
        return [(f"№ {op.operation}", f"{op.provider} · {op.account} · {self.ctx.money(op.cash)} · "
                 f"{op.attempts} · {op.last_outcome or '—'}") for op in ops]

    def _rows_attention(self) -> list[tuple[TextLike, TextLike]]:
        port = self.ctx.terminal.service
        rows: list[tuple[TextLike, TextLike]] = [
            (f"№ {op.operation}", f"{op.provider} · {op.account} · {self.ctx.money(op.cash)} · "
             f"{op.attention_reason or ''}") for op in port.operations("needs_attention", limit=20)]
        rows += [(str(i["kind"]), f"{i['at'][:19]} · {i['detail']}") for i in port.incidents(limit=5)]
        return rows or [(Msg("Needs attention"), "0")]

    def _rows_print(self) -> list[tuple[TextLike, TextLike]]:
        return [(Msg("Receipt printer"), self._printer_word(self.ctx.terminal.service.printer_status()))]

    def _rows_validator(self) -> list[tuple[TextLike, TextLike]]:
        ident, status, table = self.ctx.terminal.service.validator()
        bills = ", ".join(self.ctx.money(value) for value in table)
        return [(Msg("Model"), f"{ident.model} ({ident.protocol})"), (Msg("Serial number"), ident.serial or "—"),
                (Msg("Firmware"), ident.firmware or "—"),
                (Msg("Status"), Msg("Working") if status.online else Msg("Not connected")),
                (Msg("State"), status.state), (Msg("Banknotes"), bills)]

    def _rows_gateways(self) -> list[tuple[TextLike, TextLike]]:
        gateways = self.ctx.terminal.service.devices().gateways
        return [(name, BREAKER_WORDS.get(state, Msg("Unknown"))) for name, state in gateways.items()]

    def _rows_reprint(self) -> list[tuple[TextLike, TextLike]]:
        last = self.ctx.terminal.service.last_operation()
        return [(Msg("Last operation"), str(last) if last is not None else "—")]

    def _rows_theme(self) -> list[tuple[TextLike, TextLike]]:
        return [(Msg("Theme"), self.ctx.theme)]

    def _rows_restart(self) -> list[tuple[TextLike, TextLike]]:
        return [(Msg("Waiting operations"), str(self.ctx.terminal.service.devices().waiting[0]))]

    # -- actions ------------------------------------------------------------------------------------
    def _actions(self) -> list[tuple[TextLike, str]]:
        if self.section == "print":
            return [(Msg("Print a test page"), "print")]
        if self.section == "reprint":
            return [(Msg("Reprint last receipt"), "reprint")]
        if self.section == "theme":
            return [(name, f"theme:{name}") for name in self.ctx.themes]
        if self.section == "restart":
            return [(Msg("Are you sure?"), "restart-yes")] if self.confirming else [(Msg("Restart"), "restart")]
        if self.section == "encashment":
            return [(Msg("Are you sure?"), "encash-yes")] if self.confirming else [(Msg("Close encashment"), "encash")]
        return []

    def _do(self, what: str) -> None:
        port = self.ctx.terminal.service
        if what == "print":
            outcome = port.print_test_page(self.ctx.lang)
            self.result = Msg("No printer") if outcome is None else RECEIPT_WORDS.get(outcome, Msg("Not printed"))
        elif what == "reprint":
            self.result = RECEIPT_WORDS.get(port.reprint_last(), Msg("Not printed"))
        elif what.startswith("theme:"):
            self.ctx.request(what)
        elif what in ("restart", "encash"):
            self.confirming = True  # both are asked twice: neither can be taken back
        elif what == "encash-yes":
            self.confirming = False
            record = port.encash("service menu")
            self.result = Msg("Encashment {number} closed: {amount}, receipt: {receipt}", number=record["id"],
                              amount=self.ctx.money(record["total"]),
                              receipt=translations(self.ctx.lang).gettext(
                                  RECEIPT_WORDS.get(record["receipt"], Msg("Not printed")).msgid))
        elif what == "restart-yes":
            self.ctx.request("restart")

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Sections open, actions run here; Exit leaves the menu through the session."""
        if action == EXIT:
            return [ev.ServiceExit()]
        if action.startswith(SECTION):
            self.section, self.result, self.confirming = action[len(SECTION):], "", False
            self.page = self.section
        elif action == MENU_ACTION:
            self.page, self.section, self.result, self.confirming = MENU, "status", "", False
        elif action.startswith(DO):
            try:
                self._do(action[len(DO):])
            except Exception as exc:  # a device fault is shown to the engineer, never crashes the kiosk
                log.exception("service action %s", action)
                self.result = f"{type(exc).__name__}: {exc}"
        else:
            return super().handle(action, view)
        self.refresh()
        self.stale = True
        return []

    # -- drawing ------------------------------------------------------------------------------------
    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """The menu page (sections, with the device status under them if it fits), or one section's page."""
        if self.page == MENU:
            return self._build_menu(view, painter, rect)
        gap, m = theme.spacing, self.ctx.min_px
        widgets, body = standard(self, view, painter, rect, Msg("Service menu"),
                                 [Nav(Msg("Back"), MENU_ACTION), Nav(Msg("Exit"), EXIT, "primary")],
                                 Msg("The service menu closes in {seconds} s"))
        title, rest = heading(painter, body, SECTIONS[self.section], "title")
        widgets.append(title)
        actions = self._actions()
        if actions:
            row, rest = take_top(rest, m, gap)
            width = min(int(4.5 * m), (row.width - gap * (len(actions) - 1)) // len(actions))
            for index, (label, what) in enumerate(actions):
                chosen = what == f"theme:{self.ctx.theme}"
                widgets.append(Button((row.x + index * (width + gap), row.y, width, m), label, DO + what,
                                      "primary" if not chosen else "secondary", size="base"))
        if self.result:
            line, rest = take_top(rest, painter.font("base", True).get_linesize(), gap)
            widgets.append(Label(line, self.result, "base", "success", bold=True, max_lines=1))
        widgets.append(Table(rest, self.rows, label_share=0.3))
        return Group(widgets)

    def _build_menu(self, view: SessionView, painter: Painter, rect: pygame.Rect) -> Group:
        gap, m = painter.theme.spacing, self.ctx.min_px
        widgets, body = standard(self, view, painter, rect, Msg("Service menu"), [Nav(Msg("Exit"), EXIT, "primary")],
                                 Msg("The service menu closes in {seconds} s"))
        # no label may have to break inside a word: the widest word decides how narrow a cell can be
        small = painter.font(max(painter.theme.sizes.minimum, painter.theme.sizes.base * 4 // 5), True)
        widest = max(small.size(word)[0] for label in SECTIONS.values() for word in painter.resolve(label).split())
        cell_w = max(int(3.2 * m), widest + 2 * gap + 12)
        columns = max(1, min(len(SECTIONS), (body.width + gap) // (cell_w + gap)))
        rows = math.ceil(len(SECTIONS) / columns)
        # tall enough for a two-line label ("Waiting operations") at the size buttons shrink to
        cell_h = max(m, 2 * small.get_linesize() + gap)
        grid, rest = take_top(body, rows * cell_h + (rows - 1) * gap, gap)
        for (key, label), cell in zip(SECTIONS.items(), cells(grid, columns, rows, gap), strict=False):
            widgets.append(Button(cell, label, SECTION + key, "secondary", size="base"))
        status = Table(rest, self.rows, label_share=0.3)
        if rest.height > 0 and status.fit(painter)[2]:
            widgets.append(status)  # the device status at a glance, where the screen has room for all of it
        return Group(widgets)
