"""The service menu (after the PIN): device status, cassette, queues, test print and validator, gateways, themes."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import Screen
from kiosk.screens.categories import NEXT, PREV, page_row
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
#: shown first in the menu only while the terminal refuses money because its journal was lost (issue 9, defect 8)
JOURNAL_SECTION: dict[str, Msg] = {"journal": Msg("Journal lost")}
SKEW_BEYOND = Msg("{seconds} s against {source}, {when}: beyond the {limit} s limit").msgid
REFUSING = Msg("Not taking money: {reason}").msgid
ALERTS = {SKEW_BEYOND, REFUSING}  # values drawn in the danger colour
RECEIPT_WORDS = {"printed": Msg("Printed"), "failed": Msg("Not printed"), "incomplete": Msg("Printed in part"),
                 "not_printed": Msg("No printer"), "none": Msg("No receipt printed since the start")}


STORIES = 3  # needs-attention operations whose whole story the section tells (the others: one line each)


class ServiceScreen(Screen):
    """A grid of sections at the top, the chosen section's figures below; Exit in the footer."""

    states = ("service",)
    name = "service"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.page = MENU  # the menu of sections, or the open section's own page
        self.section = "status"
        self.menu_page = 0  # where the menu's sections do not fit at once, the page of them shown
        self.result: TextLike = ""  # what the last test or reprint did
        self.confirming = False
        self.rows: list[tuple[TextLike, TextLike]] = []
        self.refusal: str | None = None  # why the journal refuses money, read with the figures
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
            self.refusal = self.ctx.terminal.service.journal_refusal()
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
                (Msg("Terminal number"), config.terminal), (Msg("Terminal address"), config.address),
                *self._rows_journal(), (Msg("Clock"), self._skew_words())]

    def sections(self) -> dict[str, Msg]:
        """The menu's sections: the lost journal's first while it keeps the terminal from taking money."""
        return {**JOURNAL_SECTION, **SECTIONS} if self.refusal else SECTIONS

    def _skew_words(self) -> TextLike:
        skew = self.ctx.terminal.service.clock_skew()
        if skew is None:
            return Msg("Not measured yet: no processing system has answered")
        when = datetime.fromisoformat(skew.at).astimezone(self.ctx.terminal.config.timezone).strftime("%d.%m %H:%M")
        values = {"seconds": f"{skew.seconds:+.0f}", "source": skew.source, "when": when}
        if skew.beyond_limit:
            return Msg(SKEW_BEYOND, limit=f"{skew.limit:.0f}", **values)
        return Msg("{seconds} s against {source}, {when}", **values)

    def _rows_journal(self) -> list[tuple[TextLike, TextLike]]:
        if self.refusal:
            return [(Msg("Journal"), Msg(REFUSING, reason=self.refusal))]
        return [(Msg("Journal"), Msg("Taking money"))] if self.section == "journal" else []

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
        rows: list[tuple[TextLike, TextLike]] = []
        for index, op in enumerate(port.operations("needs_attention", limit=20)):
            rows.append((f"№ {op.operation}", f"{op.provider} · {op.account} · {self.ctx.money(op.cash)} · "
                                              f"{op.attention_reason or ''}"))
            story = port.story(op.operation) if index < STORIES else None
            if story is not None:
                # the same story `kiosk journal lookup` and the dealer service tell (kiosk.story), event by event
                providers = self.ctx.terminal.catalog.providers
                story.lang = self.ctx.lang  # the technician reads it in the menu's language
                rows += [(story.when(e.at)[11:19], e.text) for e in story.events(providers)]
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
        if self.section == "journal" and self.refusal:
            return [(Msg("Are you sure?"), "accept-yes")] if self.confirming else [
                (Msg("Accept the new journal"), "accept")]
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
        elif what in ("restart", "encash", "accept"):
            self.confirming = True  # all are asked twice: none can be taken back
        elif what == "encash-yes":
            self.confirming = False
            record = port.encash("service menu")
            self.result = Msg("Encashment {number} closed: {amount}, receipt: {receipt}", number=record["id"],
                              amount=self.ctx.money(record["total"]),
                              receipt=translations(self.ctx.lang).gettext(
                                  RECEIPT_WORDS.get(record["receipt"], Msg("Not printed")).msgid))
        elif what == "accept-yes":
            self.confirming = False
            if port.accept_new_journal() is not None:
                self.result = Msg("New journal accepted: money is taken again after you leave the service menu")
        elif what == "restart-yes":
            self.ctx.request("restart")

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Sections open, actions run here; Exit leaves the menu through the session."""
        if action == EXIT:
            return [ev.ServiceExit()]
        if action.startswith(SECTION):
            self.section, self.result, self.confirming = action[len(SECTION):], "", False
            self.page = self.section
        elif action in (PREV, NEXT):
            self.menu_page += 1 if action == NEXT else -1
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
        title, rest = heading(painter, body, {**JOURNAL_SECTION, **SECTIONS}[self.section], "title")
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
        widgets.append(self._table(rest))
        return Group(widgets)

    def _table(self, rect: pygame.Rect) -> Table:
        alerts = [n for n, (_, value) in enumerate(self.rows) if isinstance(value, Msg) and value.msgid in ALERTS]
        return Table(rect, self.rows, label_share=0.3, alerts=alerts)

    def _build_menu(self, view: SessionView, painter: Painter, rect: pygame.Rect) -> Group:
        gap, m = painter.theme.spacing, self.ctx.min_px
        widgets, body = standard(self, view, painter, rect, Msg("Service menu"), [Nav(Msg("Exit"), EXIT, "primary")],
                                 Msg("The service menu closes in {seconds} s"))
        # no label may have to break inside a word: the widest word decides how narrow a cell can be
        small = painter.font(max(painter.theme.sizes.minimum, painter.theme.sizes.base * 4 // 5), True)
        sections = self.sections()
        widest = max(small.size(word)[0] for label in sections.values() for word in painter.resolve(label).split())
        cell_w = max(int(3.2 * m), widest + 2 * gap + 12)
        columns = max(1, min(len(sections), (body.width + gap) // (cell_w + gap)))
        rows = math.ceil(len(sections) / columns)
        # tall enough for a two-line label ("Waiting operations") at the size buttons shrink to
        cell_h = max(m, 2 * small.get_linesize() + gap)
        shown = list(sections.items())
        finger = self.ctx.finger_px or m
        if rows * cell_h + (rows - 1) * gap > body.height:
            # large text on a small display: the sections in pages, the page buttons under them
            fit_rows = max(1, (body.height - finger - gap + gap) // (cell_h + gap))
            per_page = fit_rows * columns
            pages = math.ceil(len(shown) / per_page)
            self.menu_page = max(0, min(self.menu_page, pages - 1))
            shown = shown[self.menu_page * per_page:(self.menu_page + 1) * per_page]
            rows = fit_rows
            row = pygame.Rect(body.x, body.bottom - finger, body.width, finger)
            widgets += page_row(painter, row, self.menu_page, pages, finger)
            body = pygame.Rect(body.x, body.y, body.width, row.top - gap - body.y)
        grid, rest = take_top(body, rows * cell_h + (rows - 1) * gap, gap)
        for (key, label), cell in zip(shown, cells(grid, columns, rows, gap), strict=False):
            widgets.append(Button(cell, label, SECTION + key, "primary" if key == "journal" else "secondary",
                                  size="base"))
        status = self._table(rest)
        if rest.height > 0 and status.fit(painter)[2]:
            widgets.append(status)  # the device status at a glance, where the screen has room for all of it
        return Group(widgets)
