"""A pushed theme name reaches the screen: the switch waits for the end of a payment, then the next turn of the
screen loop shows the new theme."""

from __future__ import annotations

import dataclasses

import pygame
from terminal_steps import act, to_cash

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.screens.ui import KioskUI


def test_a_pushed_theme_shows_after_the_payment_in_progress(config):
    terminal = Terminal(config, background_checks=False)
    terminal.start(background_outbox=False)
    ui = KioskUI(terminal, size=(800, 600))
    try:
        assert ui.themes.current.id == "default"
        to_cash(terminal)  # a payer is on the cash screen (no bill yet)
        dark = dataclasses.replace(terminal.config, screen=dataclasses.replace(terminal.config.screen, theme="dark"))
        terminal.between_payments("pushed configuration", lambda: terminal.reconfigure(dark, terminal.catalog))
        ui.step()
        assert ui.themes.current.id == "default" and terminal.config.screen.theme == "default"
        act(terminal, ev.Cancel())  # nothing inserted: back to the start, between payments
        ui.step()
        assert terminal.config.screen.theme == "dark" and ui.themes.current.id == "dark"
    finally:
        terminal.close()
        pygame.display.quit()
