"""Amended registries on SQLite and PostgreSQL: a payment of a day whose registry was already built and sent, that
the terminal confirms and uploads afterwards, makes the periodic job build a new version of that day's files marked
as an amendment, kept beside the first (never changed), and sent the way the first was — by e-mail through a real
SMTP server and into the drop folder; a day that has not changed gets nothing."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from monitor_support import SmtpServer
from registry_rig import DAY, MOSCOW, OMSK, add_profile, upload_history
from sqlalchemy import select
from starlette.testclient import TestClient

from kiosk.clock import ManualClock
from kiosk.dealer_link.upload import open_reader, read_batch
from kiosk.emulators.payments import ROUTE
from kiosk.offline_queue.journal import Journal
from provisioning import tenants
from provisioning.app import create_app
from provisioning.db.models import Dealer
from provisioning.journal.ingest import store
from provisioning.journal.models import JournalPosition
from provisioning.periodic import JOBS, claim_and_run
from provisioning.registries.amend import amend_recent
from provisioning.registries.build import build
from provisioning.registries.delivery import deliver_due
from provisioning.registries.models import RegistryDelivery, RegistryFile
from provisioning.registries.schedule import build_scheduled


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()


def _confirm_late(database, folder, found: dict, operation: int) -> None:
    """The terminal learns the next morning that the provider booked `operation` and uploads the change."""
    def confirm(journal: Journal) -> None:
        attempt = journal.begin_attempt(operation, ROUTE, "status")
        journal.settle(operation, state="delivered", unpin=True, gateway="osmp", external_id=f"prv{operation}",
                       last_outcome="approved", last_code="0", last_message="OK",
                       finish=(attempt, "approved", "0", "OK", f"prv{operation}"))

    _upload_change(database, folder, found, confirm)


def _upload_change(database, folder, found: dict, change) -> None:  # noqa: ANN001
    """The terminal writes `change` into its journal the next morning and uploads what is new."""
    number = found["number"]
    path = folder / f"journal-{number}.sqlite"
    clock = ManualClock(OMSK, datetime(2026, 3, 11, 9, 0, tzinfo=MOSCOW))
    journal = Journal(path, number, "RUB", clock.now)
    change(journal)
    journal.close()
    with database.session() as session:
        after = session.get(JournalPosition, found["terminal"]).acknowledged
        reader = open_reader(path)
        while (batch := read_batch(reader, after, 50)).count:
            store(session.connection(), found["dealer"], found["terminal"], number,
                  {"format": 1, "terminal": number, "after": after, "last": batch.last, "rows": batch.rows})
            after = batch.last
        reader.close()


def _files(database, dealer_id: int) -> list[tuple[str, int, bool, bytes]]:
    with database.session() as session:
        return [(f.file_name, f.payments, f.amendment, f.content) for f in session.scalars(
            select(RegistryFile).where(RegistryFile.dealer_id == dealer_id).order_by(RegistryFile.id))]


def test_a_late_payment_makes_an_amendment_kept_beside_the_sent_file_and_sent_like_it(
        database, dealer_state, smtp, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = dataclasses.replace(dealer_state, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                   smtp_from="registries@dealer.test", registry_drop_root=str(tmp_path))
    with database.session() as session:
        found = upload_history(session, tmp_path, "amends")
        add_profile(session, found["dealer"], build_at="04:30", scheduled=True, formats="csv,xlsx",
                    emails="registry@vodokanal.test", drop_dir=str(drop))
        assert len(build_scheduled(session, datetime(2026, 3, 11, 1, 31, tzinfo=UTC), settings)) == 2
    assert deliver_due(database, settings) == 4
    first = _files(database, found["dealer"])
    assert [(name, count) for name, count, _, _ in first] == [("vodokanal_20260310.csv", 3),
                                                              ("vodokanal_20260310.xlsx", 3)]
    with database.session() as session:  # nothing changed: nothing is amended
        assert amend_recent(session, datetime(2026, 3, 11, 2, 0, tzinfo=UTC), settings) == []
    # a change no registry line shows (a receipt reprinted) is looked at once, and makes no amendment
    _upload_change(database, tmp_path, found, lambda journal: journal.set_receipt(found["plain"], "failed"))
    with database.session() as session:
        before = session.scalars(select(RegistryFile.fingerprint).where(RegistryFile.dealer_id == found["dealer"])
                                 .order_by(RegistryFile.id)).all()
        assert amend_recent(session, datetime(2026, 3, 11, 2, 15, tzinfo=UTC), settings) == []
    with database.session() as session:
        after = session.scalars(select(RegistryFile.fingerprint).where(RegistryFile.dealer_id == found["dealer"])
                                .order_by(RegistryFile.id)).all()
    assert after[-1] != before[-1] and after[:-1] == before[:-1]  # the next look is the cheap one again

    _confirm_late(database, tmp_path, found, found["unknown"])  # 14:00 on the 10th, confirmed on the 11th
    assert claim_and_run(database, "amend_registries", JOBS["amend_registries"][0], 900, settings, "test",
                         now=datetime(2026, 3, 11, 6, 0, tzinfo=UTC))
    files = _files(database, found["dealer"])
    assert files[:2] == first  # the files already sent are kept as they were, byte for byte
    assert [(name, count, amendment) for name, count, amendment, _ in files[2:]] == [
        ("vodokanal_20260310_v2_amendment.csv", 4, True), ("vodokanal_20260310_v2_amendment.xlsx", 4, True)]
    line = f"30001;{found['unknown']};2026-03-10 14:00:00;1000000003;196.00;4.00;200.00;prv{found['unknown']};"
    assert line in files[2][3].decode() and line not in first[0][3].decode()
    assert deliver_due(database, settings) == 4  # e-mail and drop folder, like the first
    mails = [m for m in smtp.messages if "Amended registry" in m["Subject"]]
    assert len(mails) == 2 and all("AMENDMENT (version 2)" in m.get_body(("plain",)).get_content() for m in mails)
    assert {p.name for p in drop.iterdir()} == {"vodokanal_20260310.csv", "vodokanal_20260310.xlsx",
                                                "vodokanal_20260310_v2_amendment.csv",
                                                "vodokanal_20260310_v2_amendment.xlsx"}
    assert (drop / "vodokanal_20260310.csv").read_bytes() == first[0][3]
    with database.session() as session:  # amended once: the next run finds the day as its latest file says
        assert amend_recent(session, datetime(2026, 3, 11, 6, 15, tzinfo=UTC), settings) == []
        states = {s for s, in session.execute(select(RegistryDelivery.state).join(
            RegistryFile, RegistryFile.id == RegistryDelivery.file_id).where(RegistryFile.dealer_id == found["dealer"]))}
    assert states == {"sent"}


def test_a_day_built_but_never_sent_is_amended_in_the_archive_only(database, dealer_state, tmp_path):
    with database.session() as session:
        found = upload_history(session, tmp_path, "quiet", number="30002")
        add_profile(session, found["dealer"], formats="csv")
        build(session, found["dealer"], "vodokanal", DAY, "csv", "support@quiet.test")
    _confirm_late(database, tmp_path, found, found["unknown"])
    with database.session() as session:
        made = amend_recent(session, datetime(2026, 3, 11, 6, 0, tzinfo=UTC), dealer_state)
        assert [(f.file_name, f.payments, f.amendment) for f in made] == [
            ("vodokanal_20260310_v2_amendment.csv", 4, True)]
        assert session.scalars(select(RegistryDelivery).where(RegistryDelivery.file_id == made[0].id)).all() == []
        tenants.add_user(session, session.get(Dealer, found["dealer"]), "desk@quiet.test", "pass phrase 12",
                         "support", "test")
    client = TestClient(create_app(dealer_state, database), base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": "desk@quiet.test", "password": "pass phrase 12"}).status_code == 303
    page = client.get("/registries").text
    assert re.search(r'vodokanal_20260310_v2_amendment\.csv</a> <strong class="amendment">amendment</strong>', page)
    assert re.search(r'vodokanal_20260310\.csv</a></th>', page)  # the first is not marked
