"""Which screen draws which session state (the receipt state has two: done, and declined or failed)."""

from __future__ import annotations

from kiosk.screens.account import AccountScreen
from kiosk.screens.attract import AttractScreen
from kiosk.screens.base import Screen
from kiosk.screens.cash import CashScreen
from kiosk.screens.categories import CategoriesScreen
from kiosk.screens.checking import CheckingScreen
from kiosk.screens.confirmation import ConfirmationScreen
from kiosk.screens.debt import DebtScreen
from kiosk.screens.done import DoneScreen
from kiosk.screens.failed import FailedScreen
from kiosk.screens.out_of_service import OutOfServiceScreen
from kiosk.screens.processing import ProcessingScreen
from kiosk.screens.providers import ProvidersScreen
from kiosk.screens.readings import ReadingsScreen
from kiosk.screens.service import ServiceScreen
from kiosk.session import SessionView

SCREENS: tuple[type[Screen], ...] = (
    AttractScreen, CategoriesScreen, ProvidersScreen, AccountScreen, CheckingScreen, ConfirmationScreen,
    CashScreen, ProcessingScreen, DoneScreen, FailedScreen, OutOfServiceScreen, ServiceScreen,
    DebtScreen, ReadingsScreen,
)
BY_STATE: dict[str, type[Screen]] = {state: cls for cls in SCREENS for state in cls.states if cls is not FailedScreen}


def screen_for(view: SessionView) -> type[Screen]:
    """The screen class for a view: by state, and for the receipt by what became of the payment."""
    if view.state == "receipt" and view.outcome == "needs_attention":
        return FailedScreen
    return BY_STATE.get(view.state, OutOfServiceScreen)
