"""The configuration API over the real link (mutual TLS, signed requests) on SQLite and PostgreSQL: 204 while nothing
is assigned, the signed bundle with a strong ETag, 304 on If-None-Match, a new ETag when a secret changes, another
terminal's path refused, and the terminal's reports recorded and audited in its name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.dealer_link.bundle import open_bundle
from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.enroll import enroll
from kiosk.dealer_link.identity import LinkError
from provisioning import tenants
from provisioning.config import store
from provisioning.config.models import ConfigReport
from provisioning.config.vault import vault_of
from provisioning.db.models import AuditEntry
from provisioning.identity import enrollment
from provisioning.server import DealerServer


@pytest.fixture(scope="module")
def link(dealer_state: Any, database: Any, tmp_path_factory: Any) -> Iterator[tuple[DealerServer, DealerLink, int]]:
    """A running service and the link of terminal 10001 of dealer acme, enrolled with a one-time code."""
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme")
        terminal = tenants.add_terminal(session, dealer, "10001", "Tverskaya 1", "Europe/Moscow", "", "t")
        tenants.add_terminal(session, dealer, "10002", "Tverskaya 2", "Europe/Moscow", "", "t")
        code = enrollment.new_enrollment_code(session, terminal, "t", dt.datetime.now(dt.UTC), 1)
        terminal_id = terminal.id
    folder = tmp_path_factory.mktemp("terminal") / "dealer-link"
    with DealerServer(dealer_state) as server:
        enroll(server.portal_url, code, server.ca_files.load().fingerprint, folder)
        with DealerLink(folder) as terminal_link:
            yield server, terminal_link, terminal_id


def _get(link: DealerLink, headers: dict[str, str] | None = None, number: str = "10001") -> Any:
    with link.stream(f"/api/v1/terminals/acme/{number}/config", headers) as reply:
        reply.read()
        return reply


def test_the_bundle_over_the_link_with_etag_and_reports(link, database, dealer_state):
    server, terminal_link, terminal_id = link
    assert _get(terminal_link).status_code == 204  # nothing assigned yet
    with database.session() as session:
        document = store.create_document(session, tenants.dealer_by_slug(session, "acme").id, "fleet", "boss")
        version = store.versions(session, document)[0]
        store.assign(session, document.dealer_id, version.id, "boss", terminal_id=terminal_id)
        version_id = version.id
    first = _get(terminal_link)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and first.headers["cache-control"] == "no-store"
    payload = open_bundle(first.content, server.ca_files.load().pem, "acme", "10001")
    assert payload["version"] == version_id and payload["label"] == "fleet v1" and payload["secrets"] == {}
    again = _get(terminal_link, {"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    assert _get(terminal_link, {"If-None-Match": '"something-else"'}).content == first.content

    with database.session() as session:
        from provisioning.db.models import Terminal

        store.set_secret(session, session.get(Terminal, terminal_id), "main", "password", "s3cret", "boss",
                         vault_of(dealer_state.state_dir))
    changed = _get(terminal_link, {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert open_bundle(changed.content, server.ca_files.load().pem, "acme", "10001")["secrets"] == {
        "main": {"password": "s3cret"}}
    assert _get(terminal_link, number="10002").status_code == 403  # signed by 10001, asking for 10002's

    path = f"{terminal_link.terminal_path}/config/report"
    terminal_link.request("POST", path, {"version": version_id, "etag": etag, "outcome": "applied"})
    terminal_link.request("POST", path, {"version": version_id, "outcome": "refused", "reason": "catalog: bad"})
    with pytest.raises(LinkError, match="422|400"):
        terminal_link.request("POST", path, {"version": version_id, "outcome": "maybe"})
    with database.session() as session:
        rows = session.scalars(select(ConfigReport).where(ConfigReport.terminal_id == terminal_id)
                               .order_by(ConfigReport.id)).all()
        assert [(r.outcome, r.reason) for r in rows] == [("applied", ""), ("refused", "catalog: bad")]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(("config.applied", "config.refused")))
                                .order_by(AuditEntry.id)).all()
        assert [(a.actor, a.target, a.outcome) for a in audit] == [("terminal 10001", "fleet v1", "ok"),
                                                                   ("terminal 10001", "fleet v1", "refused")]
