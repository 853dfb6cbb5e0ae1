"""Shtrih-M link faults over a pty: lost, damaged and cut answers, refused frames, power cuts, a mute device.

The rule under test: a fiscal command is never sent twice blindly; its answer is fetched again with ENQ, and
when it cannot be, the driver says so (LostReply) and the fiscal drive settles what happened.
"""

from __future__ import annotations

import json
import time

import pytest
from shtrih_support import agent_receipt, registrar_pair

from kiosk.drivers import shtrih_frame as sf
from kiosk.fiscal.port import LinkDown, LostReply

pytestmark = pytest.mark.usefixtures("no_leaks")  # no thread or file descriptor left behind


def _documents(tmp_path) -> dict:
    return json.loads((tmp_path / "fn.json").read_text())["documents"]


def test_lost_answer_comes_back_with_enq_identical_and_executed_once(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        plain = drv.link.exchange(sf.FN_FIND_DOCUMENT, 30, (1).to_bytes(4, "little"))
        before = emu.commands
        emu.lose_replies = 1
        recovered = drv.link.exchange(sf.FN_FIND_DOCUMENT, 30, (1).to_bytes(4, "little"))
        assert recovered == plain and emu.commands == before + 1 and emu.lose_replies == 0


def test_lost_answer_to_close_receipt_does_not_register_twice(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        sent = []
        emu.wire.on_wire = lambda direction, data: sent.append(data) if direction == "rx" else None
        emu.lose_replies = 0
        original = emu.registrar.execute

        def lose_close_answer(request):
            if request.command == sf.FN_CLOSE_RECEIPT:
                emu.lose_replies = 1
            return original(request)
        emu.registrar.execute = lose_close_answer  # type: ignore[method-assign]
        document = drv.sell(agent_receipt())
        assert document.number == 2 and document.total == 51000
        assert sorted(_documents(tmp_path)) == ["1", "2"]
        closes = [chunk for chunk in sent if chunk[2:4] == bytes((0xFF, 0x45))]
        assert len(closes) == 1  # FF45 went on the wire once: the answer came back by ENQ


def test_damaged_request_is_refused_with_nak_and_sent_again(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        emu.corrupt_requests = 2
        before = emu.commands
        sent_before = drv.link.commands_sent
        document = drv.sell(agent_receipt(fee=0, cash=50000))
        assert document.number == 2 and sorted(_documents(tmp_path)) == ["1", "2"]
        # FF01, 8D, 2 header lines, FF46, FF4D, FF0C, FF45 executed; two more frames were sent and refused
        assert emu.commands - before == 8 and drv.link.commands_sent - sent_before == 10


def test_damaged_answer_is_nakked_and_fetched_again(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        emu.corrupt_answers = 1
        before = emu.commands
        assert drv.status().last_fd == 1
        emu.corrupt_answers = 3  # three damaged deliveries in a row are still recovered (ENQ, ENQ, ENQ)
        document = drv.sell(agent_receipt())
        assert document.number == 2 and sorted(_documents(tmp_path)) == ["1", "2"]
        assert emu.commands > before


def test_answer_cut_short_is_caught_by_the_inter_byte_timeout(tmp_path):
    with registrar_pair(tmp_path, byte_timeout=0.1) as (emu, drv):
        drv.open_shift()
        emu.truncate_answers = 1
        started = time.monotonic()
        document = drv.sell(agent_receipt())
        assert document.number == 2 and sorted(_documents(tmp_path)) == ["1", "2"]
        assert time.monotonic() - started < 10


def test_mute_registrar_is_link_down_and_nothing_was_sent(tmp_path):
    with registrar_pair(tmp_path, control_timeout=0.1) as (emu, drv):
        drv.open_shift()
        emu.wire.silent = True
        with pytest.raises(LinkDown):
            drv.status()
        with pytest.raises(LinkDown):
            drv.sell(agent_receipt())
        emu.wire.silent = False
        assert drv.status().last_fd == 1 and drv.sell(agent_receipt()).number == 2


def test_power_cut_after_the_document_is_lost_reply_and_the_drive_has_it(tmp_path):
    with registrar_pair(tmp_path, control_timeout=0.1) as (emu, drv):
        drv.open_shift()
        emu.power_cut = "after"
        with pytest.raises(LostReply) as lost:
            drv.sell(agent_receipt())
        assert lost.value.expected == 2
        emu.power_on()
        found = drv.document(2)
        assert found is not None and found.kind == "receipt" and found.total == 51000
        status = drv.status()
        assert status.last_fd == 2 and not status.receipt_open
        assert drv.sell(agent_receipt()).number == 3


def test_power_cut_before_the_document_is_lost_reply_and_the_drive_has_nothing(tmp_path):
    with registrar_pair(tmp_path, control_timeout=0.1) as (emu, drv):
        drv.open_shift()
        emu.power_cut = "before"
        with pytest.raises(LostReply) as lost:
            drv.sell(agent_receipt())
        emu.power_on()
        assert drv.document(lost.value.expected or 0) is None
        status = drv.status()
        assert status.last_fd == 1 and not status.receipt_open  # power-up annulled the open receipt
        assert drv.sell(agent_receipt()).number == 2


def test_power_cut_during_open_shift_is_settled_by_number(tmp_path):
    with registrar_pair(tmp_path, control_timeout=0.1) as (emu, drv):
        emu.power_cut = "after"
        with pytest.raises(LostReply) as lost:
            drv.open_shift()
        emu.power_on()
        found = drv.document(lost.value.expected or 0)
        assert found is not None and found.kind == "shift_open" and drv.status().shift_open


def test_an_answer_nobody_read_is_discarded_before_the_next_command(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        with emu.lock:
            emu.pending = sf.reply(sf.SHORT_STATUS, 0, b"\x01" * 16)  # left by a driver that died
        status = drv.fn_status()
        assert status.last_fd == 0
        deadline = time.monotonic() + 5
        while emu.pending is not None and time.monotonic() < deadline:
            time.sleep(0.01)  # the driver's final ACK may still be on its way through the pty
        assert emu.pending is None


def test_registrar_gone_from_the_port_is_link_down(tmp_path):
    with registrar_pair(tmp_path, control_timeout=0.1) as (emu, drv):
        assert drv.status().last_fd == 0
        emu.wire.unplug()
        with pytest.raises(LinkDown):
            drv.status()
        emu.wire.replug()


def test_malformed_answers_are_registrar_errors_not_crashes(tmp_path):
    from kiosk.fiscal.port import RegistrarError

    with registrar_pair(tmp_path) as (emu, drv):
        with emu.lock:
            emu.registrar._handlers[sf.FN_STATUS] = lambda request: b"\x0f\x00"  # a two-byte FN status
            emu.registrar._handlers[sf.FN_FIND_DOCUMENT] = lambda request: b"\x03\x00" + bytes((26, 13, 40, 25, 61))
        with pytest.raises(RegistrarError, match="expected 30"):
            drv.fn_status()
        with pytest.raises(RegistrarError):
            drv.document(1)


def test_a_late_nak_before_the_ack_does_not_register_an_item_twice(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        original = emu._frame

        def late_nak_first(frame):
            replies = original(frame)
            if isinstance(frame, sf.Frame) and frame.payload[:2] == bytes((0xFF, 0x46)):
                return [bytes((sf.NAK,)), *replies]  # a NAK owed to some earlier byte arrives just now
            return replies
        emu._frame = late_nak_first  # type: ignore[method-assign]
        document = drv.sell(agent_receipt(cash=1_000_000))  # plenty of cash: a doubled item would be signed
        saved = _documents(tmp_path)[str(document.number)]
        assert len(saved["items"]) == 2 and saved["total"] == 51000 and document.total == 51000


def test_a_wire_paced_like_a_real_19200_baud_line_works_byte_by_byte(tmp_path):
    with registrar_pair(tmp_path, byte_timeout=0.2) as (emu, drv):
        emu.wire.baud = 19200  # answers trickle out a byte at a time, as from a UART
        drv.open_shift()
        assert drv.sell(agent_receipt()).number == 2
        assert sorted(_documents(tmp_path)) == ["1", "2"]
