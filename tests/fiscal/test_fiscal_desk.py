"""The fiscal receipt of a payment, exactly once: intent before the command, recovery by asking the drive."""

from __future__ import annotations

from datetime import timedelta

from fake_registrar import FN
from fiscal_steps import committed

from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.fiscal.ledger import FiscalLedger
from kiosk.offline_queue.journal import Journal


def test_first_payment_opens_the_shift_and_journals_fd_fp_and_qr(rig):
    op = committed(rig.journal, 15000, 300)
    assert rig.desk.issue(op) == "printed"
    kinds = [d.kind for d in rig.registrar.documents.values()]
    assert kinds == ["shift_open", "receipt"]
    receipt = rig.receipts()[0]
    fiscal = rig.fiscal(op.operation)
    assert fiscal == {"status": "done", "fn": FN, "fd": 2, "fp": receipt.sign, "at": receipt.at.isoformat(),
                      "qr": f"t=20261130T1200&s=150.00&fn={FN}&i=2&fp={receipt.sign}&n=1"}  # 12:00 Moscow time
    rows = rig.ledger.rows()
    assert [(r.kind, r.state, r.last_fd, r.fd) for r in rows] == [("shift_open", "done", 0, 1),
                                                                 ("receipt", "done", 1, 2)]
    assert rig.registrar.receipts[0].cash == 15000


def test_a_second_issue_for_the_same_payment_makes_nothing(rig):
    op = committed(rig.journal)
    assert rig.desk.issue(op) == "printed"
    assert rig.desk.issue(op) == "printed"
    assert len(rig.receipts()) == 1


def test_reply_lost_after_the_drive_signed_finds_the_document_instead_of_selling_again(rig):
    op = committed(rig.journal)
    rig.desk.issue(committed(rig.journal, 5000, 0))  # opens the shift
    rig.registrar.lose = "after"
    assert rig.desk.issue(op) == "printed"
    assert len(rig.registrar.receipts_for(15000)) == 1
    assert rig.fiscal(op.operation)["status"] == "done"
    assert rig.fiscal(op.operation)["fd"] == rig.registrar.last_fd
    assert rig.registrar.commands.count("receipt") == 2  # one per payment, never repeated


def test_reply_lost_before_the_drive_signed_is_failed_and_made_once_later(rig):
    op = committed(rig.journal)
    rig.registrar.lose = "before"
    assert rig.desk.issue(op) == "failed"
    assert rig.receipts() == []
    assert rig.fiscal(op.operation)["status"] == "failed"
    assert rig.incidents("fiscal_receipt_failed")[0]["operation"] == op.operation
    assert rig.ledger.owed() == [op.operation]
    result = rig.desk.catch_up(rig.journal.get)
    assert result == {"made": 1, "failed": 0, "owed": 0, "why": ""}
    assert len(rig.receipts()) == 1 and rig.fiscal(op.operation)["status"] == "done"


def test_a_crash_between_intent_and_reply_is_settled_from_the_drive_at_start(rig):
    op = committed(rig.journal)
    rig.desk.issue(committed(rig.journal, 5000, 0))
    status = rig.registrar.status()
    # the process died after journaling the intent and after the drive signed, before the result was journaled
    rig.ledger.intend(op.operation, "receipt", status.fn_number, status.last_fd, op.cash)
    from kiosk.receipt_fiscal import fiscal_receipt

    rig.registrar.sell(fiscal_receipt(rig.desk.config, rig.desk.catalog, op))
    assert rig.fiscal(op.operation)["status"] == "pending"
    assert rig.desk.catch_up(rig.journal.get)["made"] == 0  # found, not made again
    assert len(rig.registrar.receipts_for(op.cash)) == 1
    assert rig.fiscal(op.operation)["status"] == "done"


def test_a_crash_before_the_drive_signed_is_failed_then_made_once(rig):
    op = committed(rig.journal)
    status = rig.registrar.status()
    rig.ledger.intend(op.operation, "receipt", status.fn_number, status.last_fd, op.cash)
    assert rig.desk.resolve_intents() == 1
    assert [r.state for r in rig.ledger.rows(op.operation)] == ["failed"]
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1
    assert len(rig.receipts()) == 1


def test_an_unanswered_question_keeps_the_intent_and_sells_nothing_new(rig):
    op = committed(rig.journal)
    rig.desk.issue(committed(rig.journal, 5000, 0))
    rig.registrar.lose = "after"
    rig.registrar.link_down = False

    def lost_then_silent(receipt, sell=rig.registrar.sell):
        try:
            return sell(receipt)
        finally:
            rig.registrar.link_down = True

    rig.registrar.sell = lost_then_silent  # type: ignore[method-assign]
    assert rig.desk.issue(op) == "failed"
    assert [r.state for r in rig.ledger.rows(op.operation)] == ["intent"]
    assert rig.fiscal(op.operation)["status"] == "pending"
    other = committed(rig.journal, 7000, 0)
    assert rig.desk.issue(other) == "failed"  # nothing new while one document is unknown
    rig.registrar.link_down = False
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1  # the unknown one is found, the other one made
    assert len(rig.registrar.receipts_for(op.cash)) == 1 and len(rig.registrar.receipts_for(7000)) == 1


def test_paper_out_fails_the_receipt_the_payment_stands_and_paper_back_makes_it(rig):
    op = committed(rig.journal)
    rig.desk.issue(committed(rig.journal, 5000, 0))
    rig.registrar.paper = False
    assert rig.desk.issue(op) == "failed"
    assert rig.fiscal(op.operation)["status"] == "failed" and "paper" in rig.fiscal(op.operation)["error"]
    assert rig.desk.catch_up(rig.journal.get) == {"made": 0, "failed": 0, "owed": 1, "why": "no paper"}
    rig.registrar.paper = True
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1
    assert len(rig.registrar.receipts_for(op.cash)) == 1


def test_paper_running_out_inside_the_receipt_cancels_it_and_retries_later(rig):
    op = committed(rig.journal)
    rig.desk.issue(committed(rig.journal, 5000, 0))
    real_status = rig.registrar.status

    def paper_ends_during_sell(receipt, sell=rig.registrar.sell):
        rig.registrar.paper = False
        return sell(receipt)

    rig.registrar.sell = paper_ends_during_sell  # type: ignore[method-assign]
    assert rig.desk.issue(op) == "failed"
    assert "cancel" in rig.registrar.commands and real_status().receipt_open is False
    rig.registrar.paper = True
    del rig.registrar.sell
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1


def test_an_expired_shift_is_closed_and_reopened_before_selling(rig):
    rig.desk.issue(committed(rig.journal, 5000, 0))
    rig.moment += timedelta(hours=25)
    op = committed(rig.journal)
    assert rig.desk.issue(op) == "printed"
    kinds = [d.kind for d in rig.registrar.documents.values()]
    assert kinds == ["shift_open", "receipt", "z_report", "shift_open", "receipt"]
    assert [r.kind for r in rig.ledger.rows() if r.operation is None] == ["shift_open", "z_report", "shift_open"]


def test_scheduled_z_report_comes_after_the_dealers_hours_and_not_before(rig):
    rig.desk.issue(committed(rig.journal, 5000, 0))
    rig.moment += timedelta(hours=22)
    assert rig.desk.scheduled_z_report() is None
    rig.moment += timedelta(hours=1)
    z = rig.desk.scheduled_z_report()
    assert z is not None and z.kind == "z_report" and rig.registrar.shift_opened_at is None
    assert rig.desk.scheduled_z_report() is None  # no shift open, nothing to close
    assert rig.ledger.rows(state="done")[-1].fd == z.number


def test_an_open_receipt_left_behind_is_cancelled_before_selling(rig):
    rig.desk.issue(committed(rig.journal, 5000, 0))
    rig.registrar.receipt_open = True
    assert rig.desk.issue(committed(rig.journal)) == "printed"
    assert "cancel" in rig.registrar.commands


def test_receipts_from_before_the_registrar_are_not_owed(tmp_path):
    config = load_config(make_fiscal(write_config(tmp_path, gateway_mode="ok"), "/dev/null"))
    journal = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(config.timezone).now)
    try:
        committed(journal)  # printed on a plain printer, before the registrar was installed
        ledger = FiscalLedger(journal)
        ledger.start()
        later = committed(journal)
        assert ledger.owed() == [later.operation]
    finally:
        journal.close()


def test_a_registrar_that_keeps_refusing_is_reported_once_not_every_minute(rig):
    from kiosk.fiscal.port import DriveFull

    rig.desk.issue(committed(rig.journal, 5000, 0))
    op = committed(rig.journal)

    def full(receipt):
        raise DriveFull(0x14, "fiscal drive storage resource exhausted")

    rig.registrar.sell = full  # type: ignore[method-assign]
    assert rig.desk.issue(op) == "failed"
    for _ in range(3):
        assert rig.desk.catch_up(rig.journal.get)["failed"] == 1
    assert len(rig.incidents("fiscal_receipt_failed")) == 1
    assert "DriveFull" in rig.fiscal(op.operation)["error"] and rig.ledger.owed() == [op.operation]
