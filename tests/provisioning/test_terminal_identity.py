"""Enrollment and every later request over the real link (mutual TLS + RFC 9421), and the identity attacks:
revoked, expired, foreign-CA, replayed, tampered-body, wrong-terminal, stale — each refused with its reason
in the audit log."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from starlette.testclient import TestClient

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.enroll import enroll
from kiosk.dealer_link.identity import LinkError, TerminalIdentity
from kiosk.dealer_link.signing import CLIENT_CERT_HEADER, client_cert_header, sign
from provisioning import tenants
from provisioning.db.models import AuditEntry, Dealer, EnrollmentCode, Terminal
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles, create_ca, key_id
from provisioning.server import DealerServer


@pytest.fixture(scope="module")
def server(dealer_state) -> Iterator[DealerServer]:
    """The service on loopback: HTTPS portal and the mutual-TLS terminal link."""
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running


@pytest.fixture(scope="module")
def ca(dealer_state):
    return CAFiles(dealer_state.ca_dir).load()


def _code(database, number: str, dealer: str = "acme") -> str:
    with database.session() as session:
        owner = session.scalar(select(Dealer).where(Dealer.slug == dealer)) or tenants.create_dealer(
            session, dealer, dealer.title())
        terminal = tenants.add_terminal(session, owner, number, "Lenina 1", "Europe/Moscow", "north", "test")
        return enrollment.new_enrollment_code(session, terminal, "test", dt.datetime.now(dt.UTC), 24)


def _enrolled(server, database, ca, tmp_path, number: str, dealer: str = "acme") -> DealerLink:
    enroll(server.portal_url, _code(database, number, dealer), ca.fingerprint, tmp_path / number)
    return DealerLink(tmp_path / number)


def _refusals(database, needle: str) -> list[AuditEntry]:
    with database.session() as session:
        return [e for e in session.scalars(select(AuditEntry).where(AuditEntry.outcome == "refused")).all()
                if needle in e.reason]


def _trust(server: DealerServer) -> ssl.SSLContext:
    """TLS that trusts the service's CA (and presents no client certificate)."""
    return ssl.create_default_context(cafile=str(server.ca_files.cert))


def _raw_client(link: DealerLink) -> httpx.Client:
    return httpx.Client(base_url=link.settings.link_url, verify=link.identity.tls_context(), timeout=10)


def test_enrolled_terminal_heartbeat_marks_it_online(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1001") as link:
        assert (tmp_path / "1001" / "identity.pem").stat().st_mode & 0o777 == 0o600
        _, cert = link.identity.load()
        assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
            .get_values_for_type(x509.UniformResourceIdentifier) == ["urn:kiosk:terminal:acme/1001"]
        reply = link.heartbeat({"outbox_depth": 0})
        assert reply["heartbeat_interval"] == 60 and reply["renew_certificate"] is False
    with database.session() as session:
        terminal = session.scalar(select(Terminal).where(Terminal.number == "1001"))
        assert terminal.online and terminal.status == "enrolled" and terminal.version


def test_code_is_single_use(server, database, ca, tmp_path):
    code = _code(database, "1002")
    enroll(server.portal_url, code, ca.fingerprint, tmp_path / "a")
    with pytest.raises(LinkError, match="used already"):
        enroll(server.portal_url, code, ca.fingerprint, tmp_path / "b")
    assert _refusals(database, "used already")


def test_wrong_guesses_block_the_code(server, database, ca, tmp_path):
    code = _code(database, "1003")
    lookup = code.split("-")[0]
    wrong = lookup + "-AAAAA-AAAAA-AAAAA-AAAAA"
    for _ in range(5):
        with pytest.raises(LinkError, match="wrong enrollment code"):
            enroll(server.portal_url, wrong, ca.fingerprint, tmp_path / "x")
    with pytest.raises(LinkError, match="blocked"):
        enroll(server.portal_url, code, ca.fingerprint, tmp_path / "x")
    assert not (tmp_path / "x" / "identity.pem").exists()


def test_expired_code_is_refused(server, database, ca, tmp_path):
    code = _code(database, "1004")
    with database.session() as session:
        row = session.scalar(select(EnrollmentCode).where(EnrollmentCode.lookup == code.split("-")[0]))
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with pytest.raises(LinkError, match="expired"):
        enroll(server.portal_url, code, ca.fingerprint, tmp_path / "x")


def test_terminal_refuses_a_service_whose_ca_is_not_the_pinned_one(server, database, tmp_path):
    other = create_ca()
    with pytest.raises(LinkError, match="not SHA256"):
        enroll(server.portal_url, _code(database, "1005"), other.fingerprint, tmp_path / "x")
    assert not TerminalIdentity(tmp_path / "x").enrolled()


def test_replayed_request_is_refused(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1010") as link, _raw_client(link) as client:
        path = f"{link.terminal_path}/heartbeat"
        body = b'{"version": "1"}'
        headers = sign("POST", f"{link.settings.link_url}{path}", body, link.key, link.key_id)
        assert client.post(path, content=body, headers=headers).status_code == 200
        again = client.post(path, content=body, headers=headers)
        assert again.status_code == 401 and "replayed" in again.json()["detail"]
    assert _refusals(database, "replayed request")


def test_tampered_body_is_refused(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1011") as link, _raw_client(link) as client:
        path = f"{link.terminal_path}/heartbeat"
        headers = sign("POST", f"{link.settings.link_url}{path}", b'{"version": "1"}', link.key, link.key_id)
        reply = client.post(path, content=b'{"version": "2"}', headers=headers)
        assert reply.status_code == 401 and "Content-Digest does not match" in reply.json()["detail"]
    assert _refusals(database, "Content-Digest does not match")


def test_stale_request_is_refused(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1012") as link, _raw_client(link) as client:
        path = f"{link.terminal_path}/heartbeat"
        old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        headers = sign("POST", f"{link.settings.link_url}{path}", b"{}", link.key, link.key_id, created=old)
        reply = client.post(path, content=b"{}", headers=headers)
        assert reply.status_code == 401 and "stale" in reply.json()["detail"]
    assert _refusals(database, "stale request")


def test_wrong_terminal_is_refused(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1013") as one, \
            _enrolled(server, database, ca, tmp_path, "1014") as other:
        with pytest.raises(LinkError, match="wrong terminal"):
            one.request("POST", f"{other.terminal_path}/heartbeat", {"version": "x"})
    assert _refusals(database, "wrong terminal: key of acme/1013 used for acme/1014")


def test_revoked_terminal_is_refused_at_once_and_on_the_crl(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1015") as link:
        link.heartbeat()
        with database.session() as session:
            terminal = session.scalar(select(Terminal).where(Terminal.number == "1015"))
            enrollment.revoke(session, terminal, "admin@acme", "stolen", dt.datetime.now(dt.UTC))
        with pytest.raises(LinkError, match="revoked: stolen"):
            link.heartbeat()
        serial = link.cert.serial_number
    assert _refusals(database, "revoked: stolen")
    published = httpx.get(f"{server.portal_url}/api/v1/crl", verify=_trust(server))
    crl = x509.load_pem_x509_crl(published.content)
    assert crl.is_signature_valid(ca.cert.public_key())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None


def _csr_and_key() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])).sign(key, hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM)


def _tls_with(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, tmp_path, ca_path) -> ssl.SSLContext:
    pem = tmp_path / "client.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.create_default_context(cafile=str(ca_path))
    context.load_cert_chain(str(pem))
    return context


def _signed_via_app(server, cert, key, number: str) -> httpx.Response:
    """A request as it reaches the app behind a TLS-terminating proxy, which forwards the client certificate."""
    path = f"/api/v1/terminals/acme/{number}/heartbeat"
    headers = sign("POST", f"http://testserver{path}", b"{}", key, key_id(cert))
    headers[CLIENT_CERT_HEADER] = client_cert_header(cert.public_bytes(serialization.Encoding.DER))
    return TestClient(server.app).post(path, content=b"{}", headers=headers)


def test_expired_certificate_is_refused_by_tls_and_by_the_app(server, database, ca, tmp_path):
    _code(database, "1020")
    key, csr = _csr_and_key()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    cert = ca.issue_terminal(csr, "acme", "1020", days=1, now=past)
    with database.session() as session:
        terminal = session.scalar(select(Terminal).where(Terminal.number == "1020"))
        enrollment.store_certificate(session, terminal, cert)
    context = _tls_with(cert, key, tmp_path, server.ca_files.cert)
    with pytest.raises(httpx.HTTPError):  # the link listener's TLS refuses the handshake
        httpx.post(f"{server.link_url}/api/v1/terminals/acme/1020/heartbeat", content=b"{}", verify=context)
    reply = _signed_via_app(server, cert, key, "1020")
    assert reply.status_code == 403 and "expired" in reply.json()["detail"]
    assert _refusals(database, f"certificate {cert.serial_number:x} expired")


def test_foreign_ca_certificate_is_refused_by_tls_and_by_the_app(server, database, tmp_path):
    _code(database, "1021")
    foreign = create_ca("someone else's CA")
    key, csr = _csr_and_key()
    cert = foreign.issue_terminal(csr, "acme", "1021")
    context = _tls_with(cert, key, tmp_path, server.ca_files.cert)
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{server.link_url}/api/v1/terminals/acme/1021/heartbeat", content=b"{}", verify=context)
    reply = _signed_via_app(server, cert, key, "1021")
    assert reply.status_code == 401 and "not issued by this service's CA" in reply.json()["detail"]
    assert _refusals(database, "not issued by this service's CA")


def test_link_without_client_certificate_is_refused_by_tls(server):
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{server.link_url}/api/v1/terminals/acme/1001/heartbeat", content=b"{}", verify=_trust(server))


def test_certificate_renews_and_the_new_key_signs(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1030") as link:
        old = link.cert.serial_number
        link.renew()
        assert link.cert.serial_number != old
        assert link.heartbeat()["renew_certificate"] is False


def test_heartbeat_tells_a_terminal_near_expiry_to_renew(server, database, ca, tmp_path):
    with _enrolled(server, database, ca, tmp_path, "1031") as link:
        old = link.cert.serial_number
        with database.session() as session:
            from provisioning.db.models import Certificate

            row = session.scalar(select(Certificate).where(Certificate.serial == f"{old:x}"))
            row.not_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        link.heartbeat()  # the service says "renew"; the link does it at once
        assert link.cert.serial_number != old


def test_listeners_serve_only_their_paths(server, database, ca, tmp_path):
    portal_tls = _trust(server)
    assert httpx.post(f"{server.portal_url}/api/v1/terminals/acme/1/heartbeat", verify=portal_tls).status_code == 404
    with _enrolled(server, database, ca, tmp_path, "1040") as link, _raw_client(link) as client:
        assert client.get("/login").status_code == 404
        assert client.get("/api/v1/crl").status_code == 200


def test_openapi_documents_the_terminal_api(server):
    paths = json.loads(TestClient(server.app).get("/api/openapi.json").content)["paths"]
    assert {"/api/v1/enroll", "/api/v1/terminals/{dealer}/{number}/heartbeat", "/api/v1/crl"} <= set(paths)


def test_heartbeat_loop_reports_an_outage_and_resumes(server, database, ca, tmp_path):
    from kiosk.dealer_link.client import HeartbeatLoop

    _enrolled(server, database, ca, tmp_path, "1050").close()
    loop = HeartbeatLoop(tmp_path / "1050")
    try:
        reachable = loop.link.settings.link_url
        loop.link.settings.link_url = "https://127.0.0.1:9"  # the service is away
        loop.link._load()
        assert loop.beat() is False and "unreachable" in loop.last_error
        loop.link.settings.link_url = reachable
        loop.link._load()
        assert loop.beat() is True and loop.sent == 1 and loop.last_error == ""
    finally:
        loop.close()


def test_code_is_kept_only_as_a_hash(server, database):
    code = _code(database, "1060")
    with database.session() as session:
        row = session.scalar(select(EnrollmentCode).where(EnrollmentCode.lookup == code.split("-")[0]))
        stored = " ".join(str(getattr(row, c.name)) for c in EnrollmentCode.__table__.columns)
    assert code.replace("-", "")[5:] not in stored and row.expires_at - row.created_at == dt.timedelta(hours=24)


def test_enrollment_attempts_from_one_address_are_rate_limited(server, database):
    client = TestClient(server.app)  # its own client address, so other tests' attempts do not count
    for _ in range(enrollment.ENROLL_ATTEMPTS_PER_REMOTE):
        reply = client.post("/api/v1/enroll", json={"code": "ZZZZZ-AAAAA-AAAAA-AAAAA-AAAAA", "csr": "x"})
        assert reply.status_code == 403 and reply.json()["detail"] == "unknown enrollment code"
    reply = client.post("/api/v1/enroll", json={"code": _code(database, "1061"), "csr": "x"})
    assert reply.status_code == 429 and "too many refused enrollment attempts" in reply.json()["detail"]


def test_start_if_enrolled_runs_the_loop_only_for_an_enrolled_terminal(server, database, ca, tmp_path):
    from kiosk.dealer_link.client import start_if_enrolled

    assert start_if_enrolled(tmp_path / "nothing") is None
    _enrolled(server, database, ca, tmp_path, "1070").close()
    loop = start_if_enrolled(tmp_path / "1070", status=lambda: {"outbox_depth": 3})
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while loop.sent == 0 and dt.datetime.now() < deadline:
            threading.Event().wait(0.1)
        assert loop.sent >= 1
    finally:
        loop.close()
    with database.session() as session:
        from provisioning.db.models import Heartbeat

        terminal = session.scalar(select(Terminal).where(Terminal.number == "1070"))
        payloads = session.scalars(select(Heartbeat.payload).where(Heartbeat.terminal_id == terminal.id)).all()
    assert any('"outbox_depth": 3' in p for p in payloads)
