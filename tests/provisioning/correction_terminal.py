"""Shared by the end-to-end corrections tests: an enrolled in-process terminal (its real signed mTLS link, command
loop and journal upload; its screen on SDL's dummy driver) with a payment its gateway declined, uploaded."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before pygame starts: no window

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygame
from command_rig import enrolled_terminal, turn_until
from sqlalchemy import select
from terminal_steps import to_cash

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.config import Config
from kiosk.dealer_link import command_poller, upload
from kiosk.screens.ui import KioskUI
from provisioning.db import Database
from provisioning.journal.models import JournalOperation
from provisioning.server import DealerServer

_numbers = itertools.count(30001)


@dataclass
class Kiosk:
    """The running terminal, its headless screen and its id at the dealer service."""

    terminal: Terminal
    ui: KioskUI
    terminal_id: int

    def step(self) -> None:
        """One turn of the screen loop (the UI thread's work, commands between payments among it)."""
        self.ui.step(pygame.event.get())

    def turn_until(self, predicate: Callable[[], object], seconds: float = 30.0) -> bool:
        """Turn the loop until predicate() holds."""
        return turn_until(self.step, predicate, seconds)


@contextmanager
def enrolled_kiosk(server: DealerServer, database: Database, config: Config, monkeypatch: Any) -> Iterator[Kiosk]:
    """An enrolled terminal started with its link: commands hang up quickly, the journal uploads every 0.3 s."""
    monkeypatch.setattr(command_poller, "KEEPALIVE", 0.3)
    monkeypatch.setattr(upload, "start_upload", lambda link, path, number: upload.UploadLoop(
        upload.JournalUpload(path, number, upload.link_sender(link)), interval=0.3).start())
    config = dataclasses.replace(config, terminal=str(next(_numbers)))  # the journal uploads under this number
    terminal_id = enrolled_terminal(server, database, Path(config.journal_path).parent / "dealer-link",
                                    number=config.terminal)
    terminal = Terminal(config)
    terminal.start()
    ui = KioskUI(terminal, size=(800, 600))
    try:
        yield Kiosk(terminal, ui, terminal_id)
    finally:
        terminal.close()
        pygame.display.quit()


def declined_payment(kiosk: Kiosk) -> int:
    """A payer pays 100 ₽ and the provider declines the payment: the money needs attention. Its number."""
    terminal = kiosk.terminal
    operation = to_cash(terminal)
    for gateway in terminal.gateways.values():  # the check passed; now the virtual providers refuse to book
        gateway.set_mode("decline")  # type: ignore[attr-defined]
    terminal.validator.insert(10_000)
    assert kiosk.turn_until(lambda: terminal.journal.get(operation).cash == 10_000)
    terminal.post(ev.Pay())
    assert kiosk.turn_until(lambda: terminal.journal.get(operation).state == "needs_attention")
    assert kiosk.turn_until(lambda: terminal.session.state == "receipt")
    terminal.post(ev.ReceiptTaken())
    assert kiosk.turn_until(lambda: terminal.session.state != "receipt")
    return operation


def uploaded_state(database: Database, terminal_id: int, operation: int) -> str | None:
    """The operation's state as the dealer service last received it."""
    with database.session() as session:
        return session.scalar(select(JournalOperation.state).where(JournalOperation.terminal_id == terminal_id,
                                                                   JournalOperation.operation == operation))
