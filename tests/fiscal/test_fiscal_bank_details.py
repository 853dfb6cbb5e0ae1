"""A payment by bank details on a fiscal registrar (`kiosk demo --printer fiscal`): the fiscal receipt names the
bill's payee as non-fiscal lines, as the ESC/POS receipt does, also when it is made later (paper was out)."""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.demo_stack import DemoStack

PAYEE_LINES = ("Платёж по реквизитам", "ИНН 7728123459", "КПП 772801001", "БИК 044525225",
               "Р/с 40703810038000077001")


def pump_until(terminal: Terminal, predicate: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Turn the terminal's loop until predicate() holds; False when time ran out."""
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        terminal.pump()
        time.sleep(0.02)
    return predicate()


def pay_by_details(stack: DemoStack, terminal: Terminal) -> int:
    """The demo bill of a payee nobody lists, scanned and paid with 1 000 RUB; the operation's number."""
    stack.scan_port(terminal)("by_details")
    terminal.pump()
    assert terminal.session.state == "confirmation" and terminal.session.provider.id == "by_details"
    terminal.post(ev.Confirm())
    terminal.pump()
    assert terminal.session.state == "cash_collection"
    terminal.validator.insert(100000)
    assert pump_until(terminal, lambda: terminal.session.cash == 100000)
    number = terminal.session.operation
    terminal.post(ev.Pay())
    assert pump_until(terminal, lambda: terminal.session.state == "receipt"), terminal.session.state
    return number


def printed_payee(printout: str) -> list[str]:
    """The payee lines found in the registrar's printout, in the order of PAYEE_LINES."""
    return [line for line in PAYEE_LINES if line in printout]


def test_the_fiscal_receipt_names_the_payee_now_and_when_it_is_made_after_paper_is_back(tmp_path):
    with DemoStack(tmp_path, in_process=True, printer="fiscal") as stack:
        assert stack.fiscal is not None
        terminal = Terminal(stack.config, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            first = pay_by_details(stack, terminal)
            assert terminal.journal.get(first).details["fiscal"]["status"] == "done"
            now = stack.fiscal.printout.read_text(encoding="utf-8")
            assert printed_payee(now) == list(PAYEE_LINES), now
            terminal.post(ev.ReceiptTaken())
            terminal.pump()

            stack.fiscal.command("paper out")
            later = pay_by_details(stack, terminal)
            assert terminal.journal.get(later).details["fiscal"]["status"] == "failed"
            terminal.post(ev.ReceiptTaken())
            terminal.pump()
            stack.fiscal.command("paper in")
            before = len(stack.fiscal.printout.read_text(encoding="utf-8"))
            terminal.fiscal_upkeep()  # the receipt still owed is made now, without the payment's slip
            assert terminal.journal.get(later).details["fiscal"]["status"] == "done"
            made_later = stack.fiscal.printout.read_text(encoding="utf-8")[before:]
            assert printed_payee(made_later) == list(PAYEE_LINES), made_later
            assert "Терминал" not in made_later  # no slip of a payer long gone: only whom the money went to
        finally:
            terminal.close()
        receipts = [d for d in stack.fiscal.documents() if d["kind"] == "receipt"]
        assert [d["total"] for d in receipts] == [100000, 100000]  # one fiscal receipt per payment, never two
