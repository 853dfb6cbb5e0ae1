"""Pay by phone number: the payer types a +7 mobile number first and the session finds its operator.

The entry is a moment of the categories and providers screens (their session states take EnterPhone), not a
session state of its own: what is typed stays on the screen until Next posts it, and the session decides
which operator, if any, the number belongs to.
"""

from __future__ import annotations

import re
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.catalog import InputField
from kiosk.screens.account import entry_widgets
from kiosk.screens.base import Screen
from kiosk.screens.entry import Keypad, TextField
from kiosk.screens.frame import Nav, standard
from kiosk.screens.grid import Tile
from kiosk.screens.text import Msg, Painter
from kiosk.screens.widgets import BACKSPACE, CLEAR, Group
from kiosk.session import SessionView

PHONE, PHONE_NEXT, PHONE_CLOSE = "phone", "phone-next", "phone-close"
#: the category of the mobile operators: where the session sends a number whose operator it cannot tell
MOBILE = "mobile"
#: ten national digits of a +7 mobile number, shown in the mask the operators' own fields use
PHONE_FIELD = InputField(id="phone", label={}, pattern=re.compile(r"9[0-9]{9}"), mask="+7 (___) ___-__-__",
                         min_length=10, max_length=10)


def phone_tile() -> Tile:
    """The tile that opens the phone entry; '+7' in its badge says what it asks for in any language."""
    return Tile(PHONE, Msg("Pay by phone number"), badge="+7")


class PhoneEntry:
    """The number typed so far and its keypad, kept by the screen that opened the entry."""

    def __init__(self) -> None:
        self.value = ""
        self.problem = ""
        self.keypad: Keypad | None = None

    def build(self, screen: Screen, view: SessionView, painter: Painter, rect: pygame.Rect) -> Group:
        """Field, hint and digit keypad; Back closes the entry, Next (with all ten digits) sends the number."""
        ready = len(self.value) == PHONE_FIELD.max_length
        widgets, body = standard(screen, view, painter, rect, Msg("Pay by phone number"),
                                 [Nav(Msg("Back"), PHONE_CLOSE), Nav(Msg("Next"), PHONE_NEXT, "primary", ready)])
        hint = (Msg("Enter a mobile number: the operator is found automatically"), "")
        entry, self.keypad = entry_widgets(painter, body, screen.ctx.min_px, PHONE_FIELD, self.value, "digits",
                                           self.keypad, problem=self.problem, note=hint, label=Msg("Phone number"))
        return Group(widgets + entry)

    def press(self, key: str) -> list[Any]:
        """A keypad key edits the number; a key press is a sign of life that restarts the countdown."""
        editor = TextField((0, 0, 1, 1), PHONE_FIELD, value=self.value)
        if editor.press(key):
            self.value, self.problem = editor.value, ""
        # as EditAccount does on the account screen: someone typing must not be sent back to the start
        return [ev.MoreTime()]

    def submit(self) -> list[Any]:
        """The number for the session to find its operator, or nothing while the number has a problem."""
        self.problem = PHONE_FIELD.problem(self.value)
        return [] if self.problem else [ev.EnterPhone("+7" + self.value)]


class PhoneScreen(Screen):
    """A screen with a 'Pay by phone number' tile that opens the phone entry in its place."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.phone: PhoneEntry | None = None

    def phone_action(self, action: str) -> list[Any] | None:
        """The session events of a phone-entry action, or None if the action is not one."""
        if action == PHONE:
            self.phone = PhoneEntry()
        elif self.phone is None:
            return None
        elif action == PHONE_CLOSE:
            self.phone = None
        elif action == PHONE_NEXT:
            events = self.phone.submit()
            if events:
                # the session answers with the operator's account screen, or the operators to choose from
                self.phone = None
            self.stale = True
            return events
        elif action in (BACKSPACE, CLEAR) or (len(action) == 1 and action.isdigit()):
            self.stale = True
            return self.phone.press(action)
        else:
            return None
        self.stale = True
        return []

    def phone_key(self, key: int, unicode: str) -> list[Any] | None:
        """A hardware key in the phone entry (None when the entry is closed)."""
        if self.phone is None:
            return None
        if key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            return self.phone_action(PHONE_NEXT)
        if key == pygame.K_BACKSPACE:
            return self.phone_action(BACKSPACE)
        if unicode and unicode.isdigit():
            return self.phone_action(unicode)
        return []
