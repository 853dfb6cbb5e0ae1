"""Payments corrected on a terminal, as support and the payer see them (SQLite and PostgreSQL): a terminal enrolled
for real runs corrections against processing emulators over HTTP and uploads its journal over its signed link.
A reversal the provider has not answered is named as such in the story, the needs-attention queue, the portal, the
API, the CLI and the payer's status page; after the account change finishes, every id the payment's requests ever
carried — the reissued ones too — finds it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from correction_support import PASSWORD, dealer
from monitor_support import enrolled
from starlette.testclient import TestClient

from kiosk.dealer_link.commands import CommandFailed
from kiosk.dealer_link.status_signer import StatusSigner
from kiosk.dealer_link.upload import JournalUpload, link_sender
from kiosk.offline_queue.journal import DELIVERED, NEEDS_ATTENTION
from kiosk.story import from_journal
from provisioning import tenants
from provisioning.cli import main as dealer_main
from provisioning.corrections import service
from provisioning.db.models import Terminal
from provisioning.journal import lookup
from provisioning.server import DealerServer
from tests.dealer_link.correction_rig import ACCOUNT, Rig, servers  # noqa: F401  (the module-scoped emulators)

NEW_ACCOUNT = "9031112233"


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    dealer(database)
    with DealerServer(dealer_state) as running:
        yield running


def _upload(link, rig: Rig) -> None:  # noqa: ANN001
    upload = JournalUpload(rig.journal.path, "10001", link_sender(link))
    upload.catch_up()
    upload.close()


def _dealer_id(database, slug: str = "acme") -> int:  # noqa: ANN001
    with database.session() as session:
        return tenants.dealer_by_slug(session, slug).id


def _portal(server: DealerServer) -> TestClient:
    client = TestClient(server.app, base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": "support@acme.test", "password": PASSWORD}).status_code == 303
    return client


def test_an_unanswered_reversal_is_named_everywhere_and_reissued_ids_find_the_payment(
        server, database, dealer_state, servers, tmp_path, capsys):  # noqa: F811
    link = enrolled(server, database, tmp_path, "10001")
    rig = Rig(tmp_path / "rig", servers)
    try:
        number = rig.committed()
        assert rig.outbox.deliver(number) == DELIVERED
        first = rig.journal.get(number)
        first_ids, first_booking = first.request_ids(), first.external_id
        # the payer typed a wrong account; the provider's answer to the cancellation is lost
        servers["main"].control("fault drop-after-booking 1 cancel")
        with pytest.raises(CommandFailed):
            rig.run("account", number, account=NEW_ACCOUNT, approved=True)
        assert rig.journal.get(number).state == NEEDS_ATTENTION
        cancel_at = rig.journal.attempts(number)[-1]["started_at"]
        _upload(link, rig)
        dealer_id = _dealer_id(database)
        with database.session() as session:
            (row,) = [r for r in lookup.attention(session, dealer_id) if r["op"].operation == number]
            terminal = row["terminal"]
            story = lookup.story(session, terminal, row["op"])
        local = story.when(cancel_at)
        assert local.endswith("(UTC+03:00)")  # the terminal's zone (Europe/Moscow)
        assert row["reason"].startswith(f"reversal pending at main since {local} — ")
        with database.session() as session:  # support in Russian reads it in Russian
            (russian,) = [r for r in lookup.attention(session, dealer_id, lang="ru") if r["op"].operation == number]
        assert russian["reason"].startswith(f"ждёт ответа на отмену в main с {local} — ")
        assert story.as_json()["reversal_pending"] == {"gateway": "main", "since": cancel_at}
        assert f"reversal     reversal pending at main since {local}" in "\n".join(story.lines())
        terminal_story = from_journal(rig.journal, number)  # the technician at the terminal reads the same
        terminal_story.timezone = "Europe/Moscow"
        assert f"reversal     reversal pending at main since {local}" in "\n".join(terminal_story.lines())
        # the CLI's JSON and text, the portal's story, queue and API name it too
        state = ["--state", str(dealer_state.state_dir), "lookup", "--dealer", "acme"]  # beta has a 10001 too
        assert dealer_main([*state, "--terminal", "10001", "--operation", str(number), "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["reversal_pending"]["gateway"] == "main"
        assert dealer_main([*state, "--terminal", "10001", "--operation", str(number)]) == 0
        assert "reversal pending at main since" in capsys.readouterr().out
        portal = _portal(server)
        page = portal.get(f"/lookup/terminals/{terminal.id}/operations/{number}").text
        assert re.search(r'id="story-state">needs_attention — reversal pending', page)
        assert f'id="story-reversal" role="alert">reversal pending at main since {local}' in page
        # only repeating the account change (or a refund) can settle it: nothing else is offered or taken
        assert 'id="offer-account"' in page and 'id="offer-refund"' in page
        assert 'id="offer-reprocess"' not in page and 'id="offer-reroute"' not in page
        with database.session() as session, pytest.raises(service.CorrectionError, match="waits for main's answer"):
            service.request(session, session.get(Terminal, terminal.id), number, "reprocess", {}, "", "support@acme.test",
                            dt.datetime.now(dt.UTC))
        assert f"reversal pending at main since {local}" in portal.get("/lookup/attention").text
        found = portal.get("/api/v1/lookup", params={"q": f"10001/{number}"}).json()["found"]
        assert found[0]["reversal_pending"] == {"gateway": "main", "since": cancel_at}
        # the payer who holds the receipt reads it in plain words
        signer = StatusSigner(f"{server.portal_url}/s", tmp_path / "10001")
        status_link = signer.link("10001", number, first.nonce)
        with httpx.Client(verify=False, timeout=10) as client:
            assert "ждём его ответа" in client.get(status_link).text
            assert "waiting for their answer" in client.get(status_link + "?lang=en").text

            # asked again, the provider confirms the reversal: the new account is paid under new ids
            result = rig.run("account", number, account=NEW_ACCOUNT, approved=True)
            assert result["state"] == DELIVERED and rig.live(number) == [("main", NEW_ACCOUNT, 100_00)]
            _upload(link, rig)
            assert "Платёж зачислен получателю" in client.get(status_link).text
        second = rig.journal.get(number)
        second_ids = second.request_ids()
        assert all(new != old for new, old in zip(second_ids, first_ids, strict=True))
        with database.session() as session:
            assert not [r for r in lookup.attention(session, dealer_id) if r["op"].operation == number]
            (_, op), = lookup.find(session, dealer_id, f"10001/{number}")
            assert lookup.story(session, terminal, op).as_json()["reversal_pending"] is None
            for text in (*map(str, first_ids), *map(str, second_ids), first_booking, second.external_id):
                assert [(t.number, o.operation) for t, o in lookup.find(session, dealer_id, text)] == \
                    [("10001", number)], text
            # another operation's nonce under this number is still no name of it
            stranger = second_ids[0][:-6] + f"{(second.details['reissued_nonce'] + 1) % 10**6:06d}"
            assert lookup.find(session, dealer_id, stranger) == []
        assert portal.get("/api/v1/lookup", params={"q": str(second_ids[1])}).json()["found"][0]["operation"] == number
        assert portal.get("/lookup", params={"q": second_ids[2]}).headers["location"].endswith(f"/operations/{number}")
        assert dealer_main([*state, "--query", second_ids[2], "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["account"] == NEW_ACCOUNT
    finally:
        rig.close()
        link.close()


def test_a_rerouted_payment_is_found_by_the_second_gateways_id(server, database, servers, tmp_path):  # noqa: F811
    link = enrolled(server, database, tmp_path, "10001", dealer="beta")  # the rig's journal is terminal 10001
    rig = Rig(tmp_path / "rig", servers)
    try:
        servers["main"].control(f"account {ACCOUNT} missing")
        number = rig.committed()
        assert rig.outbox.deliver(number) == NEEDS_ATTENTION
        assert rig.run("reroute", number, gateway="other", approved=True)["state"] == DELIVERED
        booking = rig.journal.get(number).external_id
        _upload(link, rig)
        with database.session() as session:
            found = lookup.find(session, _dealer_id(database, "beta"), booking)
            assert [(t.number, o.operation, o.gateway) for t, o in found] == [("10001", number, "other")]
    finally:
        rig.close()
        link.close()
