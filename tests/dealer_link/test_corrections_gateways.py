"""Corrections on the terminal against real processing emulators over HTTP: re-process, re-route, account change and
refund each do what they promise, refuse what they cannot prove safe, and never leave two live bookings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from correction_rig import ACCOUNT, Rig, servers  # noqa: F401  (the module-scoped emulators)

from kiosk.dealer_link.commands import HANDLERS, CommandFailed
from kiosk.offline_queue.journal import COMMITTED, DELIVERED, NEEDS_ATTENTION
from kiosk.offline_queue.operation import REFUNDED

NEW_ACCOUNT = "9031112233"
REFUND = {"how": "cash", "returned_by": "Petrova (office cashier)", "returned_at": "2026-11-30T12:00:00+03:00"}


@pytest.fixture
def rig(tmp_path, servers) -> Iterator:  # noqa: F811
    made: list[Rig] = []

    def make(*args: object, **kwargs: object) -> Rig:
        made.append(Rig(tmp_path / str(len(made)), servers, *args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for each in made:
        each.close()


def declined_at_main(r: Rig) -> int:
    """An operation the main provider refused finally (account unknown there): needs attention, nothing booked."""
    r.servers["main"].control(f"account {ACCOUNT} missing")
    number = r.committed()
    assert r.outbox.deliver(number) == NEEDS_ATTENTION
    return number


def lost_at_main(r: Rig) -> int:
    """An operation booked at main whose reply was lost, where the gateway's profile sends it to a person."""
    r.servers["main"].control("fault drop-after-booking 1 pay")
    number = r.committed()
    assert r.outbox.deliver(number) == NEEDS_ATTENTION
    return number


def test_the_terminal_knows_the_correction_command():
    assert "correction" in HANDLERS


# -- re-process -------------------------------------------------------------------------------------------
def test_reprocess_resolves_a_lost_reply_by_status_and_books_once(rig):
    r = rig("osmp-status")
    r.servers["main"].control("fault drop-after-booking 1 pay")
    number = r.committed()
    assert r.outbox.deliver(number) == COMMITTED and r.journal.get(number).booked() == "booked: unknown"
    result = r.run("reprocess", number)
    assert result["state"] == DELIVERED
    assert r.verbs(number) == ["pay@main", "status@main"]
    assert r.live(number) == [("main", ACCOUNT, 100_00)]


def test_reprocess_never_resends_to_a_provider_that_books_every_repeat(rig):
    r = rig("rebooking")
    number = lost_at_main(r)
    result = r.run("reprocess", number)
    assert result["state"] == NEEDS_ATTENTION and "books a repeated pay again" in result["attention_reason"]
    assert r.verbs(number) == ["pay@main"] and len(r.live(number)) == 1


def test_reprocess_refuses_a_delivered_payment(rig):
    r = rig()
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED
    with pytest.raises(CommandFailed) as refused:
        r.run("reprocess", number)
    assert refused.value.error == "wrong_state"


def test_a_number_reused_after_a_restore_is_not_corrected(rig):
    r = rig()
    number = r.committed()
    with pytest.raises(CommandFailed, match="reused after a restore"):
        r.corrector.run("reprocess", {"operation": number, "op_key": "T10001-0000000001-000000"})


# -- re-route ---------------------------------------------------------------------------------------------
def test_reroute_pays_elsewhere_only_after_the_first_gateway_proved_it_did_not_execute(rig):
    r = rig("osmp-status")
    number = declined_at_main(r)
    result = r.run("reroute", number, gateway="other")
    assert result["state"] == DELIVERED and result["gateway"] == "other"
    assert r.verbs(number) == ["pay@main", "status@main", "pay@other"]
    assert r.live(number) == [("other", ACCOUNT, 100_00)]
    assert [c["kind"] for c in r.journal.get(number).details["corrections"]] == ["reroute"]


def test_reroute_is_refused_when_the_first_gateway_cannot_prove_anything(rig):
    r = rig("rebooking")
    number = lost_at_main(r)
    with pytest.raises(CommandFailed) as refused:
        r.run("reroute", number, gateway="other")
    assert refused.value.error == "not_proved"
    assert "pay@other" not in r.verbs(number) and r.live(number) == [("main", ACCOUNT, 100_00)]
    assert r.journal.get(number).pinned_gateway == "main"  # still unknown: nobody may pay it elsewhere


def test_reroute_is_refused_when_the_status_query_says_it_was_executed(rig):
    # the gateway declares no status query (so the outbox asks a person), but the provider does answer one
    r = rig("rebooking", served="osmp-status")
    number = lost_at_main(r)
    with pytest.raises(CommandFailed) as refused:
        r.run("reroute", number, gateway="other")
    assert refused.value.error == "executed"
    assert "WAS executed" in r.journal.get(number).attention_reason
    assert r.live(number) == [("main", ACCOUNT, 100_00)]


def test_reroute_needs_a_gateway_the_provider_is_routed_through(rig):
    r = rig()
    number = declined_at_main(r)
    with pytest.raises(CommandFailed) as refused:
        r.run("reroute", number, gateway="nowhere")
    assert refused.value.error == "no_gateway"


# -- account change ---------------------------------------------------------------------------------------
def test_account_change_before_booking_sends_the_new_account_under_new_ids(rig):
    r = rig()
    number = declined_at_main(r)
    old_ids = r.journal.get(number).request_ids()
    result = r.run("account", number, account=NEW_ACCOUNT)
    op = r.journal.get(number)
    assert result["state"] == DELIVERED and op.account == NEW_ACCOUNT
    assert op.request_ids()[1] != old_ids[1] and op.idempotency_key == old_ids[0]  # its identity stays
    assert r.live(number) == [("main", NEW_ACCOUNT, 100_00)]


def test_account_change_after_booking_needs_approval(rig):
    r = rig()
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED
    with pytest.raises(CommandFailed) as refused:
        r.run("account", number, account=NEW_ACCOUNT)
    assert refused.value.error == "needs_approval" and r.live(number) == [("main", ACCOUNT, 100_00)]


def test_account_change_after_booking_cancels_first_then_pays_the_new_account(rig):
    r = rig()
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED
    result = r.run("account", number, account=NEW_ACCOUNT, approved=True)
    assert result["state"] == DELIVERED and result["account"] == NEW_ACCOUNT
    assert r.verbs(number) == ["pay@main", "cancel@main", "pay@main"]
    assert r.live(number) == [("main", NEW_ACCOUNT, 100_00)]  # the first booking is reversed


def test_account_change_is_refused_where_the_protocol_cannot_cancel(rig):
    r = rig(routes=("json",))
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED and r.journal.get(number).gateway == "json"
    with pytest.raises(CommandFailed) as refused:
        r.run("account", number, account=NEW_ACCOUNT, approved=True)
    assert refused.value.error == "not_cancellable"
    assert r.live(number) == [("json", ACCOUNT, 100_00)] and r.journal.get(number).state == DELIVERED


def test_a_cancel_whose_reply_is_lost_leaves_the_payment_booked_and_a_repeat_finishes_it(rig):
    r = rig()
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED
    r.servers["main"].control("fault drop-after-booking 1 cancel")
    with pytest.raises(CommandFailed) as refused:
        r.run("account", number, account=NEW_ACCOUNT, approved=True)
    op = r.journal.get(number)
    assert refused.value.error == "not_cancelled" and op.state == NEEDS_ATTENTION and "unknown" in op.attention_reason
    with pytest.raises(CommandFailed, match="reversal"):
        r.run("reprocess", number)  # never a pay while nobody knows whether the first was reversed
    result = r.run("account", number, account=NEW_ACCOUNT, approved=True)
    assert result["state"] == DELIVERED and r.live(number) == [("main", NEW_ACCOUNT, 100_00)]


# -- refund -----------------------------------------------------------------------------------------------
def test_refund_of_a_delivered_payment_reverses_it_first_and_records_who_returned_the_cash(rig):
    r = rig()
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED
    result = r.run("refund", number, approved=True, **REFUND)
    op = r.journal.get(number)
    assert result["state"] == REFUNDED and op.booked() == "not booked (refunded)" and r.live(number) == []
    record = op.details["corrections"][-1]
    assert record["returned_by"] == REFUND["returned_by"] and record["how"] == "cash"
    refunded = [i for i in r.journal.incidents() if i["kind"] == "refunded"]
    assert refunded and refunded[0]["amount"] == 100_00 and "Petrova" in refunded[0]["detail"]


def test_refund_without_approval_or_without_who_and_how_is_refused(rig):
    r = rig()
    number = declined_at_main(r)
    with pytest.raises(CommandFailed, match="approval"):
        r.run("refund", number, **REFUND)
    with pytest.raises(CommandFailed, match="who returned"):
        r.run("refund", number, approved=True, how="cash")
    assert r.journal.get(number).state == NEEDS_ATTENTION


def test_refund_of_an_unbooked_payment_asks_the_gateway_first(rig):
    r = rig()
    number = declined_at_main(r)
    assert r.run("refund", number, approved=True, **REFUND)["state"] == REFUNDED
    assert r.verbs(number) == ["pay@main", "status@main"] and r.live(number) == []


def test_refund_is_refused_while_a_booking_may_exist(rig):
    r = rig("rebooking")
    number = lost_at_main(r)
    with pytest.raises(CommandFailed):
        r.run("refund", number, approved=True, **REFUND)
    assert r.journal.get(number).state == NEEDS_ATTENTION


def test_after_new_ids_the_request_under_them_still_needs_proof_before_paying_elsewhere(rig):
    r = rig("rebooking")  # the clock stands still here: proof is about which requests, never about their times
    number = r.committed()
    assert r.outbox.deliver(number) == DELIVERED
    r.servers["main"].control("fault drop-after-booking 1 pay")  # the new account's pay is booked, its reply lost
    assert r.run("account", number, account=NEW_ACCOUNT, approved=True)["state"] == NEEDS_ATTENTION
    assert r.live(number) == [("main", NEW_ACCOUNT, 100_00)]
    for kind, args in (("reroute", {"gateway": "other"}), ("refund", {**REFUND, "approved": True})):
        with pytest.raises(CommandFailed) as refused:
            r.run(kind, number, **args)
        assert refused.value.error == "not_proved", kind
    assert r.live(number) == [("main", NEW_ACCOUNT, 100_00)]
