"""The payer's status page, end to end on SQLite and PostgreSQL: a terminal enrolled for real signs the link its
receipt's QR carries, the service checks it against the terminal's certificates and shows the payment's state in
Russian or English with the masked account and the dealer's support phone; forged, altered or unknown links show
nothing; support's search box understands the link too."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from monitor_support import enrolled
from sqlalchemy import select

from kiosk.clock import ManualClock
from kiosk.config_document import parse_text, starter
from kiosk.dealer_link.status_signer import StatusSigner
from kiosk.dealer_link.upload import JournalUpload, link_sender
from kiosk.emulators.payments import pay
from kiosk.offline_queue.journal import Journal
from kiosk.status_link import make_link, parse_link, verify
from provisioning.config import store
from provisioning.db.models import Terminal
from provisioning.journal import lookup
from provisioning.server import DealerServer

TZ = ZoneInfo("Europe/Moscow")


@pytest.fixture(scope="module")
def server(dealer_state) -> Iterator[DealerServer]:
    with DealerServer(dealer_state) as running:
        yield running


def _assign_support_phone(database, number: str, phone: str, status_url: str) -> None:
    """The dealer sets the status page and the support desk's phone in a pushed configuration document."""
    document = starter()
    document["receipts"] = {"status_url": status_url, "support_phone": phone}
    with database.session() as session:
        terminal = session.scalar(select(Terminal).where(Terminal.number == number))
        created = store.create_document(session, terminal.dealer_id, f"status {number}", "test")
        version = store.save_version(session, created, store.render(document), "test")
        store.assign(session, terminal.dealer_id, version.id, "test", terminal_id=terminal.id)


def test_a_signed_link_opens_the_payments_status_and_nothing_else(server, database, tmp_path):
    link = enrolled(server, database, tmp_path, "7101")
    journal = Journal(tmp_path / "journal.sqlite", "7101", "RUB", ManualClock(TZ).now)
    clock = ManualClock(TZ)
    delivered = journal.get(pay(journal, clock, account="9161234567"))
    waiting = journal.get(pay(journal, clock, account="9161234567", delivered=False))
    base = f"{server.portal_url}/s"
    _assign_support_phone(database, "7101", "+7 (800) 555-35-35", base)
    with link:
        upload = JournalUpload(journal.path, "7101", link_sender(link))
        upload.catch_up()
        upload.close()
    later = journal.open_operation("mts", "9161234567", {"account": "9161234567"}, max_cash=100_000)  # not uploaded
    signer = StatusSigner(base, tmp_path / "7101")
    with httpx.Client(verify=False, timeout=10) as client:
        page = client.get(signer.link("7101", delivered.operation, delivered.nonce))
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "Платёж зачислен получателю" in page.text and "+7 (800) 555-35-35" in page.text
        assert "9161234567" not in page.text and "9161 **45 67" in page.text  # the account masked
        english = client.get(signer.link("7101", delivered.operation, delivered.nonce) + "?lang=en")
        assert "The payment has been credited" in english.text and 'lang="en"' in english.text
        assert "передаётся получателю" in client.get(signer.link("7101", waiting.operation, waiting.nonce)).text
        assert "has not reported this payment yet" in client.get(
            signer.link("7101", later.operation, later.nonce), headers={"accept-language": "en-GB,en"}).text
        # a link for another operation cannot be made from this one: the signature covers the numbers
        forged = signer.link("7101", delivered.operation, delivered.nonce).replace(
            f"/{delivered.operation}-", f"/{waiting.operation}-")
        refused = client.get(forged)
        assert refused.status_code == 404 and "Такого платежа нет" in refused.text and "<dd>" not in refused.text
        assert client.get(f"{base}/7101/{delivered.operation}/not-a-signature").status_code == 404
    journal.close()


def test_a_link_signed_by_another_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    url = make_link("https://pay.example.ru/s/", key, "10001", 57, 381904)
    assert url.startswith("https://pay.example.ru/s/10001/57-381904/") and len(url) < 160  # fits a receipt QR
    ref = parse_link(url)
    assert ref is not None and (ref.terminal, ref.operation, ref.nonce) == ("10001", 57, 381904)
    assert verify(ref, key.public_key()) and not verify(ref, other.public_key())
    older = parse_link(make_link("https://pay.example.ru/s", key, "10001", 58, None))
    assert older is not None and older.nonce is None and verify(older, key.public_key())
    assert parse_link("https://pay.example.ru/s/10001/57") is None


def test_support_finds_the_payment_from_the_status_link(server, database, tmp_path):
    link = enrolled(server, database, tmp_path, "7102")
    journal = Journal(tmp_path / "journal.sqlite", "7102", "RUB", ManualClock(TZ).now)
    op = journal.get(pay(journal, ManualClock(TZ)))
    with link:
        upload = JournalUpload(journal.path, "7102", link_sender(link))
        upload.catch_up()
        upload.close()
    url = StatusSigner("https://pay.example.ru/s", tmp_path / "7102").link("7102", op.operation, op.nonce)
    with database.session() as session:
        dealer_id = session.scalar(select(Terminal.dealer_id).where(Terminal.number == "7102"))
        found = lookup.find(session, dealer_id, url)
    assert [(t.number, o.operation, o.op_key) for t, o in found] == [("7102", op.operation, op.idempotency_key)]
    journal.close()


def test_the_dealer_sets_the_status_page_in_the_pushed_configuration():
    document = starter()
    document["receipts"] = {"status_url": "ftp://nope"}
    with pytest.raises(store.StoreError) as refused:
        store.validated(store.render(document))
    assert "receipts.status_url" in str(refused.value.args) or "status_url" in str(refused.value)
    document["receipts"] = {"directory": "/tmp/elsewhere"}  # the receipts' folder stays the terminal's
    with pytest.raises(store.StoreError):
        store.validated(store.render(document))
    document["receipts"] = {"status_url": "https://pay.example.ru/s", "support_phone": "+7 800 555-35-35"}
    accepted = parse_text(store.render(store.validated(store.render(document))))
    assert accepted["receipts"] == {"status_url": "https://pay.example.ru/s", "support_phone": "+7 800 555-35-35"}
