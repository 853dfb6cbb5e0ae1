"""Real payments driven headless by injected touches through the real UI, session, journal and gateways."""

from __future__ import annotations

from pathlib import Path

import pygame
import pytest
from kiosk_ui import Driver, driven_ui

from kiosk.drivers import validator as dv
from kiosk.screens.base import MORE_TIME_SECONDS
from kiosk.screens.screenshots import UNKNOWN_OPERATOR_NUMBER
from kiosk.screens.text import Msg
from kiosk.screens.ui import RESTART_EXIT


@pytest.fixture
def kiosk(tmp_path: Path):
    with driven_ui(tmp_path) as driver:
        yield driver


def _bookings(driver: Driver) -> list[dict]:
    return [b for g in driver.terminal.gateways.values() for b in g.bookings()]


def test_payment_by_touch_from_attract_screen_to_receipt_and_back(kiosk: Driver) -> None:
    assert kiosk.ui.screen.name == "attract"
    kiosk.to_cash()
    kiosk.insert(500)
    kiosk.insert(100)
    assert kiosk.terminal.session.view().cash == 60000
    kiosk.tap("pay")
    kiosk.settle()
    assert kiosk.ui.screen.name == "done"
    op = kiosk.terminal.journal.last_operation()
    assert (op.state, op.cash, op.account, op.receipt_status) == ("delivered", 60000, "9123456789", "printed")
    assert len(_bookings(kiosk)) == 1
    kiosk.tap("finish")
    assert kiosk.ui.screen.name == "attract"


def test_fingers_pay_too_and_a_finger_with_its_mouse_copy_types_one_digit(kiosk: Driver) -> None:
    for action in ("start", "category:mobile", "provider:mts"):
        kiosk.tap(action, finger=True)
    x, y = kiosk.where("9")
    width, height = kiosk.ui.size
    kiosk.ui_clock.advance(0.5)
    # SDL reports one touch twice: the finger event and a mouse event flagged as coming from touch
    for event in (pygame.event.Event(pygame.FINGERDOWN, touch_id=7, finger_id=0, x=x / width, y=y / height,
                                     dx=0.0, dy=0.0, pressure=1.0),
                  pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(x, y), button=1, touch=True),
                  pygame.event.Event(pygame.FINGERUP, touch_id=7, finger_id=0, x=x / width, y=y / height,
                                     dx=0.0, dy=0.0, pressure=1.0),
                  pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(x, y), button=1, touch=True)):
        pygame.event.post(event)
    kiosk.ui.step(pygame.event.get())
    assert kiosk.terminal.session.account == "9"


def test_account_field_shows_the_live_mask(kiosk: Driver) -> None:
    for action in ("start", "category:mobile", "provider:mts"):
        kiosk.tap(action)
    kiosk.type("912345")
    assert kiosk.terminal.session.view().account_display == "+7 (912) 345"
    kiosk.tap("backspace")
    assert kiosk.terminal.session.account == "91234"
    # Next stays grey until the number is whole (issue 11); Enter on a service keyboard still asks the session
    assert "submit" not in kiosk.ui.targets()
    kiosk.key(pygame.K_RETURN)
    assert kiosk.state == "account_entry" and kiosk.terminal.session.view().account_error == "too_short"


def test_next_is_enabled_only_for_a_valid_number(kiosk: Driver) -> None:
    for action in ("start", "category:mobile", "provider:mts"):
        kiosk.tap(action)
    kiosk.type("912345678")
    assert "submit" not in kiosk.ui.targets()  # nine digits of ten
    kiosk.type("9")
    assert "submit" in kiosk.ui.targets()
    kiosk.tap("submit")
    assert kiosk.state == "confirmation"


def test_hurried_double_tap_on_next_does_not_confirm_the_unread_details(kiosk: Driver) -> None:
    for action in ("start", "category:mobile", "provider:mts"):
        kiosk.tap(action)
    kiosk.type("9123456789")
    spot = kiosk.where("submit")
    kiosk.tap("submit")
    assert kiosk.state == "confirmation"
    kiosk.ui_clock.advance(0.25)  # past the 150 ms debounce: a deliberate second tap, on what is now Confirm
    kiosk.tap_at(spot)
    assert kiosk.state == "confirmation"
    assert kiosk.terminal.journal.last_operation() is None


def test_with_money_inside_there_is_no_cancel_and_walking_away_pays(kiosk: Driver) -> None:
    kiosk.to_cash()
    assert "home" in kiosk.ui.targets()
    kiosk.insert(100)
    assert "home" not in kiosk.ui.targets()
    assert kiosk.ui.screen.countdown.seconds == kiosk.terminal.config.timeouts["cash_collection"]
    kiosk.wait(kiosk.terminal.config.timeouts["cash_collection"] + 1)
    op = kiosk.terminal.journal.last_operation()
    assert op.cash == 10000 and op.commit_reason == "timeout" and op.state == "delivered"
    assert kiosk.ui.screen.name == "done"


def test_pay_is_disabled_below_the_minimum_and_the_maximum_holds(kiosk: Driver) -> None:
    kiosk.to_cash()
    assert "pay" not in kiosk.ui.targets()  # a disabled button offers no target
    for _ in range(3):
        kiosk.insert(5000)
    kiosk.insert(5000)  # 20 000 would pass the 15 000 maximum: the validator no longer takes it
    assert kiosk.terminal.session.view().cash == 1500000
    assert "pay" in kiosk.ui.targets()


def test_countdown_runs_and_idle_returns_to_the_attract_screen(kiosk: Driver) -> None:
    kiosk.tap("start")
    assert kiosk.ui.screen.name == "categories"
    timeout = kiosk.terminal.config.timeouts["category"]
    kiosk.wait(10)
    assert kiosk.ui.screen.countdown.seconds == timeout - 10
    kiosk.wait(timeout - 9)
    assert kiosk.ui.screen.name == "attract"


def test_language_switch_everywhere_and_back_to_the_default_for_the_next_payer(kiosk: Driver) -> None:
    kiosk.tap("lang")
    assert kiosk.ui.lang == "en" and kiosk.terminal.receipts.language == "en"
    for action in ("start", "category:mobile"):
        kiosk.tap(action)
        assert "lang" in kiosk.ui.targets()
    kiosk.tap("lang")
    assert kiosk.ui.lang == "ru"
    kiosk.tap("lang")
    kiosk.tap("back")
    kiosk.tap("back")
    assert kiosk.ui.screen.name == "attract" and kiosk.ui.lang == "ru"


def test_provider_search_by_name_chooses_the_provider(kiosk: Driver) -> None:
    kiosk.tap("start")
    kiosk.tap("category:utilities")
    kiosk.tap("search")
    kiosk.type("ВОДО")
    kiosk.tap("provider:vodokanal")
    assert kiosk.state == "account_entry" and kiosk.terminal.session.provider.id == "vodokanal"


def test_declined_payment_says_plainly_where_the_money_is(tmp_path: Path) -> None:
    with driven_ui(tmp_path, gateway_mode="decline") as kiosk:
        kiosk.to_cash("9161112233")
        kiosk.insert(100)
        kiosk.tap("pay")
        kiosk.settle()
        assert kiosk.ui.screen.name == "failed"
        assert kiosk.terminal.journal.last_operation().state == "needs_attention"


def test_device_fault_takes_the_terminal_out_of_service_and_back(kiosk: Driver) -> None:
    kiosk.post(dv.Failure(50, "test"))
    assert kiosk.ui.screen.name == "out_of_service"
    kiosk.post(dv.Ready())
    assert kiosk.ui.screen.name == "attract"


def test_service_menu_behind_the_pin_switches_the_theme_at_run_time(kiosk: Driver) -> None:
    kiosk.login("0000")
    assert kiosk.state == "idle" and kiosk.terminal.session.view().message == "wrong_pin"
    kiosk.tap("pin-cancel")
    kiosk.login("1234")
    assert kiosk.ui.screen.name == "service"
    for section in ("status", "cassette", "waiting", "attention", "gateways", "validator", "encashment"):
        kiosk.tap(f"section:{section}")
        kiosk.tap("service-menu")
    kiosk.tap("section:print")
    kiosk.tap("do:print")
    assert kiosk.terminal.config.printer.options["path"]
    assert Path(kiosk.terminal.config.printer.options["path"]).stat().st_size > 0
    kiosk.tap("service-menu")
    kiosk.tap("section:theme")
    kiosk.tap("do:theme:dark")
    assert kiosk.ui.themes.current.id == "dark"
    assert kiosk.ui.surface.get_at((2, kiosk.ui.size[1] // 2))[:3] == kiosk.ui.themes.current.colours.background
    kiosk.tap("service-menu")
    kiosk.tap("section:restart")
    kiosk.tap("do:restart")
    assert kiosk.ui.exit_code is None  # one press only asks "are you sure?"
    kiosk.tap("do:restart-yes")
    assert kiosk.ui.exit_code == RESTART_EXIT
    kiosk.ui.exit_code = None
    kiosk.tap("service-exit")
    assert kiosk.state == "idle"


def test_no_way_out_of_the_kiosk_in_production(kiosk: Driver) -> None:
    for event in (pygame.event.Event(pygame.QUIT), pygame.event.Event(pygame.WINDOWCLOSE)):
        pygame.event.post(event)
    kiosk.ui.step(pygame.event.get())
    kiosk.key(pygame.K_ESCAPE)
    assert kiosk.ui.exit_code is None


def test_demo_keys_insert_banknotes_and_escape_quits(tmp_path: Path) -> None:
    with driven_ui(tmp_path, demo=True) as kiosk:
        kiosk.to_cash()
        kiosk.key(pygame.K_5, "5")
        kiosk.key(pygame.K_1, "1")
        assert kiosk.terminal.session.view().cash == 50000 + 1000
        kiosk.key(pygame.K_ESCAPE)
        assert kiosk.ui.exit_code == 0


def test_the_loop_sleeps_when_nothing_happens(kiosk: Driver) -> None:
    assert kiosk.ui.wait_ms() >= 500
    assert not kiosk.ui.draw()  # nothing changed: nothing is drawn
    kiosk.to_cash()
    assert 1 <= kiosk.ui.wait_ms() <= 50  # bills and replies arrive from other threads


def test_press_shows_on_the_very_next_frame(kiosk: Driver) -> None:
    kiosk.tap("start")
    tile = kiosk.ui.targets()["category:mobile"]
    spot = (tile.x + 12, tile.centery)  # the tile's face, beside its icon
    before = kiosk.ui.surface.get_at(spot)
    kiosk.ui_clock.advance(0.5)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=tile.center, button=1, touch=False))
    kiosk.ui.step(pygame.event.get())
    after = kiosk.ui.surface.get_at(spot)
    assert before != after


def test_encashment_from_the_service_menu_empties_the_counted_cassette(kiosk: Driver) -> None:
    kiosk.to_cash()
    kiosk.insert(500)
    kiosk.tap("pay")
    kiosk.settle()
    kiosk.tap("finish")
    kiosk.login()
    kiosk.tap("section:cassette")
    assert any(value == "1" for _, value in kiosk.ui.screen.rows)  # one banknote since the last encashment
    kiosk.tap("service-menu")
    kiosk.tap("section:encashment")
    kiosk.tap("do:encash")
    assert kiosk.terminal.journal.encashments() == []  # asked "are you sure?" first
    kiosk.tap("do:encash-yes")
    (record,) = kiosk.terminal.journal.encashments()
    assert (record["total"], record["bill_count"]) == (50000, 1)
    kiosk.tap("service-menu")
    kiosk.tap("section:cassette")
    assert any(value == "0" for _, value in kiosk.ui.screen.rows)


def _shows(widget, msgid: str) -> bool:
    """Whether a widget or anything inside it shows this msgid (a banner, a label, a prompt)."""
    text = getattr(widget, "text", None) or getattr(widget, "question", None)
    if isinstance(text, Msg) and text.msgid == msgid:
        return True
    return any(_shows(child, msgid) for child in getattr(widget, "children", ()) if child.visible)


@pytest.mark.parametrize("way_in", [("start", "phone"), ("start", "category:mobile", "phone")])
def test_pay_by_phone_number_finds_the_operator_and_fills_in_the_number(kiosk: Driver, way_in: tuple) -> None:
    for action in way_in:
        kiosk.tap(action)
    assert kiosk.ui.screen.phone is not None
    kiosk.type("903123456")
    assert "phone-next" not in kiosk.ui.targets()  # nine digits are not a number yet
    kiosk.type("7")
    kiosk.tap("phone-next")
    view = kiosk.terminal.session.view()
    assert (kiosk.ui.screen.name, view.provider, view.account) == ("account", "beeline", "9031234567")
    assert view.account_display == "+7 (903) 123-45-67"
    kiosk.tap("submit")
    assert kiosk.state == "confirmation"


def test_a_number_of_an_unknown_operator_asks_the_payer_to_choose_it(kiosk: Driver) -> None:
    kiosk.tap("start")
    kiosk.tap("phone")
    kiosk.type(UNKNOWN_OPERATOR_NUMBER)
    kiosk.tap("phone-next")
    view = kiosk.terminal.session.view()
    assert (kiosk.ui.screen.name, view.category, view.message) == ("providers", "mobile", "choose_operator")
    assert _shows(kiosk.ui.widgets, "We could not tell the operator of this number: please choose it")
    assert {"provider:mts", "provider:beeline", "phone"} <= set(kiosk.ui.targets())
    kiosk.tap("phone")  # from the operators' own grid the number can be tried again: still unknown
    kiosk.type(UNKNOWN_OPERATOR_NUMBER)
    kiosk.tap("phone-next")
    assert kiosk.ui.screen.phone is None and kiosk.state == "provider"
    kiosk.tap("provider:megafon")
    assert kiosk.state == "account_entry" and kiosk.terminal.session.provider.id == "megafon"


def test_phone_entry_back_returns_to_the_tiles_and_a_wrong_number_is_explained(kiosk: Driver) -> None:
    kiosk.tap("start")
    kiosk.tap("phone")
    kiosk.type("8123456789")  # a landline-style number: the field asks for a mobile one
    kiosk.tap("phone-next")
    assert kiosk.state == "category" and kiosk.ui.screen.phone.problem == "wrong_format"
    kiosk.tap("phone-close")
    assert kiosk.ui.screen.phone is None and "category:mobile" in kiosk.ui.targets()


def test_typing_a_phone_number_keeps_the_countdown_from_running_out(kiosk: Driver) -> None:
    kiosk.tap("start")
    kiosk.tap("phone")
    timeout = kiosk.terminal.config.timeouts["category"]
    kiosk.wait(timeout - 5)
    kiosk.type("9")
    assert kiosk.ui.screen.countdown.seconds == timeout


def test_near_the_timeout_the_payer_is_asked_if_they_need_more_time(kiosk: Driver) -> None:
    kiosk.tap("start")
    timeout = kiosk.terminal.config.timeouts["category"]
    kiosk.wait(timeout - MORE_TIME_SECONDS - 1)
    assert "more-time" not in kiosk.ui.targets()
    kiosk.wait(1)
    assert "more-time" in kiosk.ui.targets()
    assert _shows(kiosk.ui.widgets, "Do you need more time?")
    kiosk.tap("more-time")
    assert kiosk.state == "category" and kiosk.ui.screen.countdown.seconds == timeout
    assert "more-time" not in kiosk.ui.targets()


def test_with_money_inside_more_time_postpones_the_automatic_payment_and_leaves_pay_in_reach(kiosk: Driver) -> None:
    kiosk.to_cash()
    kiosk.insert(100)
    timeout = kiosk.terminal.config.timeouts["cash_collection"]
    kiosk.wait(timeout - 5)
    prompt = kiosk.ui.widgets.children[-1]
    assert not prompt.rect.colliderect(kiosk.ui.targets()["pay"])  # the offer sits beside Pay, not over it
    kiosk.tap("more-time")
    kiosk.wait(timeout - 1)
    assert kiosk.state == "cash_collection"
    kiosk.wait(2)
    op = kiosk.terminal.journal.last_operation()
    assert (op.cash, op.commit_reason, op.state) == (10000, "timeout", "delivered")


def test_a_press_on_the_more_time_prompt_does_not_reach_what_it_covers(kiosk: Driver) -> None:
    kiosk.tap("start")
    kiosk.tap("category:mobile")  # a full grid: no room beside the tiles, so the offer goes over their feet
    kiosk.wait(kiosk.terminal.config.timeouts["provider"] - 10)
    prompt = kiosk.ui.widgets.children[-1]
    covered = [rect for action, rect in kiosk.ui.targets().items()
               if action.startswith("provider:") and prompt.rect.colliderect(rect)]
    assert covered, "the prompt covers no tile here: the test needs a screen where it does"
    spot = covered[0].clip(prompt.rect).center
    assert not kiosk.ui.targets()["more-time"].collidepoint(spot)
    kiosk.ui_clock.advance(0.5)
    kiosk.tap_at(spot)
    assert kiosk.state == "provider"  # the tile under the prompt was not pressed


def test_the_attract_slides_tell_the_catalogs_fees_in_the_screens_language(tmp_path: Path) -> None:
    from kiosk.screens.ads import CatalogSlideshow

    for lang, heading, line in (("ru", "Мобильная связь", "Т2 (Tele2) — 1\u00a0%, макс. 50,00\u00a0₽"),
                                ("en", "Mobile", "T2 (Tele2) — 1\u00a0%, max RUB\u00a050.00")):
        with driven_ui(tmp_path / lang, lang=lang) as kiosk:
            show = next(w for w in kiosk.ui.widgets.children if isinstance(w, CatalogSlideshow))
            first = show.slides[0]
            assert kiosk.ui.painter.resolve(first.heading) == heading
            assert line.replace("\u00a0", " ") in [text.replace("\u00a0", " ") for text in first.lines]
            # one slide per category with providers, none claiming "no fee" for a provider that charges one
            assert len(show.slides) == 4 and not any("Tele2" in text and "комисси" in text for text in first.lines)
