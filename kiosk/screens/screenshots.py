"""Every screen in every theme and language, headless, by walking a real Terminal through real payments.

The terminal runs on a ManualClock with its files in a temporary folder, the in-process virtual validator and
gateways, and a file printer (so receipts count as printed). Each moment worth seeing is saved as
`<screen>-<theme>-<lang>.png`.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from kiosk import events as ev
from kiosk.clock import ManualClock
from kiosk.config import Config, Part
from kiosk.drivers import validator as dv

#: the moments saved, in the order the walk reaches them
SHOTS = ("attract", "service_pin", "categories", "providers", "phone", "choose_operator", "provider_search",
         "account", "account_error", "checking", "confirmation", "more_time", "cash_empty", "cash", "processing",
         "done", "failed", "done_queued", "out_of_service", "service", "service_cassette",
         "scan_refused", "debt", "readings", "reading_problem", "cash_debt")
#: a number no operator is known for (in the demo's DEF table or phonenumbers): the payer is asked to choose
UNKNOWN_OPERATOR_NUMBER = "9551234567"
LANGUAGES = ("ru", "en")
START = datetime(2026, 1, 15, 12, 0, 0)


@contextmanager
def terminal_in(folder: Path, base: Config | None = None, gateway_mode: str = "ok") -> Iterator[tuple]:
    """A started demo Terminal on a ManualClock with every file in folder; yields (terminal, clock)."""
    from kiosk.app import Terminal
    from kiosk.demo_config import demo_config

    config = demo_config(folder, base=base)
    config = dataclasses.replace(config, printer=Part("printer", "file", {"path": str(folder / "printer.bin")}))
    config = dataclasses.replace(config, gateways={
        name: dataclasses.replace(part, options={**part.options, "mode": gateway_mode})
        for name, part in config.gateways.items()})
    clock = ManualClock(config.timezone, START.replace(tzinfo=config.timezone))
    terminal = Terminal(config, clock=clock, background_checks=False)
    terminal.start(background_outbox=False)
    try:
        yield terminal, clock
    finally:
        terminal.close()


def settle(terminal) -> None:  # noqa: ANN001 - a kiosk.app.Terminal
    """Let queued events and in-flight deliveries finish."""
    for _ in range(20):
        terminal.pump()
        terminal.outbox.wait_idle()
        if terminal.events.empty():
            return


def handle_one(terminal, event) -> None:  # noqa: ANN001
    """Post an event and handle only it, leaving what it caused queued (to see the state in between)."""
    terminal.post(event)
    terminal.session.handle(terminal.events.get_nowait())


def walk(ui, terminal, shot: Callable[[str], None]) -> None:  # noqa: ANN001 - KioskUI, Terminal
    """Drive the terminal through every screen, calling shot(name) at each moment in SHOTS."""
    def act(*actions: str) -> None:
        for action in actions:
            ui.act(action)
        settle(terminal)
        ui.refresh()

    def post(*events: object) -> None:
        for event in events:
            terminal.post(event)
        settle(terminal)
        ui.refresh()

    shot("attract")
    act(*["service-tap"] * 5)
    shot("service_pin")
    act("pin-cancel", "start")
    shot("categories")
    act("category:mobile")
    shot("providers")
    act("phone", *"903123")
    shot("phone")
    act("phone-close", "phone", *UNKNOWN_OPERATOR_NUMBER, "phone-next")
    shot("choose_operator")
    act("search", *(("М", "Т") if ui.lang == "ru" else ("M", "T")))
    shot("provider_search")
    # The number typed for the unknown operator is carried over; clear it to show typing from scratch.
    act("search-close", "provider:mts", "clear", *"912345")
    shot("account")
    act("submit")
    shot("account_error")
    act(*"6789")
    handle_one(terminal, ev.SubmitAccount())  # the check's answer stays queued: the check is on screen
    ui.refresh()
    shot("checking")
    settle(terminal)
    ui.refresh()
    shot("confirmation")
    terminal.clock.advance(terminal.config.timeouts["confirmation"] - 10)
    post(ev.Tick())
    shot("more_time")
    act("more-time", "confirm")
    shot("cash_empty")
    for value in (50000, 10000):
        terminal.validator.insert(value)
        settle(terminal)
    ui.refresh()
    shot("cash")
    handle_one(terminal, ev.Pay())  # delivery starts; its result stays queued
    ui.refresh()
    shot("processing")
    settle(terminal)
    ui.refresh()
    shot("done")
    act("finish")
    _pay_with_gateways(terminal, post, "decline", "9161112233")
    shot("failed")
    act("finish")
    _pay_with_gateways(terminal, post, "down", "9165554433")
    shot("done_queued")
    act("finish")
    post(dv.Failure(50, "demo fault"))
    shot("out_of_service")
    post(dv.Ready(), ev.ServiceLogin("1234"))
    shot("service")
    act("section:cassette")
    shot("service_cassette")
    act("service-exit")
    _utility_bill(terminal, post, act, shot)


def _utility_bill(terminal, post, act, shot) -> None:  # noqa: ANN001
    """A scanned ЕПД: a code that is not a bill, the demo bill's debt, its first meter, then 2 000 ₽ of it in cash."""
    from kiosk.utility_demo import SAMPLE_EPD

    for gateway in terminal.gateways.values():
        gateway.set_mode("ok")
    post(ev.ScanCode(b"https://example.com/not-a-bill"))
    shot("scan_refused")
    act("home")
    post(ev.ScanCode(SAMPLE_EPD.read_bytes()))
    shot("debt")
    act("debt-next", *"13")
    shot("readings")
    act("reading-next")
    shot("reading_problem")
    # corrected, the hot water meter skipped: the cash screen keeps the debt's total and what is left of it
    act("clear", *"130", "reading-next", "reading-skip", "confirm")
    terminal.validator.insert(200000)
    post()  # settles the stacked banknote and redraws
    shot("cash_debt")
    act("pay")
    act("finish")


def _pay_with_gateways(terminal, post, mode: str, account: str) -> None:  # noqa: ANN001
    for gateway in terminal.gateways.values():
        gateway.set_mode(mode)
    # one at a time: the check's answer must arrive before Confirm is pressed, as it would for a person
    for event in (ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount(account), ev.SubmitAccount(), ev.Confirm()):
        post(event)
    terminal.validator.insert(10000)
    post(ev.Pay())


#: a folder holding this file gets only the pictures it names (one file name a line): the README's pictures
SHOT_LIST = "shots.txt"


def listed_shots(folder: Path) -> list[str] | None:
    """The file names a folder's shots.txt asks for (None without one); '#' starts a comment."""
    path = folder / SHOT_LIST
    if not path.is_file():
        return None
    names = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [name for name in names if name]


def render_theme_language(out_dir: Path, theme: str, lang: str, size: tuple[int, int] | None = None,
                          keep: Callable[[str, object], None] | None = None,
                          only: Collection[str] | None = None, themes_dir: Path | None = None) -> list[Path]:
    """Walk one theme and language, saving each moment to out_dir (only the file names in `only`, if given)
    and handing every surface to keep; the theme is looked up in themes_dir if given."""
    from kiosk.screens.ui import KioskUI

    paths: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as temp, terminal_in(Path(temp)) as (terminal, _clock):
        ui = KioskUI(terminal, size=size, theme=theme, lang=lang, clock=lambda: 0.0, themes_dir=themes_dir)

        def shot(name: str) -> None:
            ui.widgets.tick(0.0)
            file_name = f"{name}-{theme}-{lang}.png"
            if only is None or file_name in only:
                paths.append(ui.save(out_dir / file_name))
            if keep is not None:
                keep(name, ui.surface)

        walk(ui, terminal, shot)
    return paths


def render_all(out_dir: str | Path, size: tuple[int, int] | None = None, themes: list[str] | None = None,
               languages: list[str] | None = None) -> list[Path]:
    """Every screen × theme × language as PNG files in out_dir (or only those its shots.txt names)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from kiosk.screens.theme import THEMES_DIR, theme_names

    out = Path(out_dir)
    only = listed_shots(out)
    paths: list[Path] = []
    try:
        for theme in themes or theme_names(THEMES_DIR):
            for lang in languages or LANGUAGES:
                if only is not None and not any(name.endswith(f"-{theme}-{lang}.png") for name in only):
                    continue  # no picture wanted from this walk
                paths += render_theme_language(out, theme, lang, size, only=only)
    finally:
        pygame.quit()
    return paths
