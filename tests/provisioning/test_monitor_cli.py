"""`kiosk-dealer alerts`: the list of a dealer's alerts, and a test message that really reaches the webhook and the
SMTP server (or says which channel did not take it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from collections.abc import Iterator

import pytest
from monitor_support import SmtpServer, WebhookReceiver

from provisioning import tenants
from provisioning.cli import main
from provisioning.monitor.delivery import SIGNATURE_HEADER, verify
from provisioning.monitor.models import Alert, AlertChannel

NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def receivers(db_url) -> Iterator[tuple[WebhookReceiver, SmtpServer]]:
    hook, smtp = WebhookReceiver(), SmtpServer()
    yield hook, smtp
    hook.close()
    smtp.close()


@pytest.fixture(scope="module")
def state(dealer_state, database, receivers):
    """The service's settings with an SMTP server, and dealer `cli` with two alerts and both channels."""
    dataclasses.replace(dealer_state, smtp_host="127.0.0.1", smtp_port=receivers[1].port).save()
    with database.session() as session:
        dealer = tenants.create_dealer(session, "cli", "CLI")
        terminal = tenants.add_terminal(session, dealer, "4001", "", "Europe/Moscow", "", "test")
        session.add(Alert(dealer_id=dealer.id, terminal_id=terminal.id, kind="paper_out", detail="out of paper",
                          opened_at=NOW))
        session.add(Alert(dealer_id=dealer.id, terminal_id=terminal.id, kind="offline", detail="silent",
                          opened_at=NOW - dt.timedelta(hours=2), closed_at=NOW - dt.timedelta(hours=1),
                          close_detail="cleared"))
        session.add(AlertChannel(dealer_id=dealer.id, webhook_url=receivers[0].url, webhook_secret="s3cret",
                                 emails="ops@cli.test"))
    return dealer_state.state_dir


def test_alerts_list_shows_open_ones_and_with_all_the_closed_too(state, capsys):
    assert main(["--state", str(state), "alerts", "list", "--dealer", "cli"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown == ["2030-01-01T12:00:00+00:00  terminal 4001  paper_out: out of paper"]
    assert main(["--state", str(state), "alerts", "list", "--dealer", "cli", "--all"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 2 and shown[1].endswith("closed 2030-01-01T11:00:00+00:00 (cleared)")


def test_alerts_test_reaches_the_webhook_signed_and_the_smtp_server(state, database, receivers, capsys):
    hook, smtp = receivers
    assert main(["--state", str(state), "alerts", "test", "--dealer", "cli"]) == 0
    assert capsys.readouterr().out.splitlines() == ["webhook: taken", "e-mail: taken"]
    [(headers, body)] = hook.received
    assert verify("s3cret", headers[SIGNATURE_HEADER], body) and b'"event": "test"' in body
    [mail] = smtp.messages
    assert mail["Subject"] == "[kiosk cli] test message" and mail["To"] == "ops@cli.test"
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, "cli")
        session.get(AlertChannel, dealer.id).webhook_url = f"http://127.0.0.1:{port}/hook"
    assert main(["--state", str(state), "alerts", "test", "--dealer", "cli"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("webhook: not taken: ConnectError") and out[1] == "e-mail: taken"
