"""The terminal API (JSON, OpenAPI): enrollment with a one-time code, then signed requests only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from provisioning import audit
from provisioning.context import Services
from provisioning.db.models import TerminalGroup, utcnow
from provisioning.heartbeat import MAX_BODY, record_heartbeat
from provisioning.identity import enrollment
from provisioning.identity.requests import RequestRefused, VerifiedTerminal, verify_terminal_request

router = APIRouter(prefix="/api/v1")
TERMINAL_PREFIX = "/api/v1/terminals/"


class EnrollRequest(BaseModel):
    """A terminal's enrollment: the code it was given and a CSR made with its own key."""

    code: str = Field(max_length=64)
    csr: str = Field(max_length=8192, description="PEM certificate signing request (ECDSA P-256)")


class TerminalInfo(BaseModel):
    """Who the terminal is at this dealer."""

    dealer: str
    number: str
    address: str
    timezone: str
    group: str


class LinkConfig(BaseModel):
    """The terminal's initial link configuration."""

    link_url: str
    heartbeat_interval: int
    renew_before_days: int


class EnrollResponse(BaseModel):
    """The terminal's certificate, the CA chain to pin, and its initial configuration."""

    certificate: str
    ca_chain: str
    terminal: TerminalInfo
    config: LinkConfig


class HeartbeatResponse(BaseModel):
    """The service's answer to a heartbeat."""

    server_time: str
    heartbeat_interval: int
    renew_certificate: bool
    highest_operation: int = Field(description="the highest operation number this terminal has ever reported; "
                                               "a terminal whose journal knows less was restored from an older copy")


class RenewRequest(BaseModel):
    """A CSR for a new certificate before the current one expires."""

    csr: str = Field(max_length=8192)


class CertificateResponse(BaseModel):
    """A renewed certificate."""

    certificate: str
    ca_chain: str


def services(request: Request) -> Services:
    """The process's services (set by the app factory)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services)]


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _audit_refusal(svc: Services, action: str, reason: str, remote: str, target: str = "",
                   dealer_id: int | None = None, actor: str = "unknown") -> None:
    # In its own transaction: the refused request's work was rolled back, its refusal must stay.
    with svc.db.session() as session:
        audit.record(session, actor=actor, action=action, dealer_id=dealer_id, target=target, outcome="refused",
                     reason=reason, remote=remote)


@router.post("/enroll", response_model=EnrollResponse, summary="Exchange a one-time code and a CSR for a certificate")
async def enroll(body: EnrollRequest, request: Request, svc: ServicesDep) -> Any:
    """Enroll a terminal (no client certificate yet: the code proves it)."""
    remote = _remote(request)

    def work() -> EnrollResponse:
        now = utcnow()
        with svc.db.session() as session:
            try:
                issued = enrollment.enroll(session, svc.ca, body.code, body.csr.encode(), now, remote,
                                           svc.settings.certificate_days)
            except enrollment.EnrollmentRefused as exc:
                refusal = exc  # leaving the block normally commits the counted attempt (and a blocked code)
            else:
                group = session.get(TerminalGroup, issued.terminal.group_id) if issued.terminal.group_id else None
                return EnrollResponse(
                    certificate=issued.certificate_pem, ca_chain=svc.ca.pem.decode(),
                    terminal=TerminalInfo(dealer=issued.dealer.slug, number=issued.terminal.number,
                                          address=issued.terminal.address, timezone=issued.terminal.timezone,
                                          group=group.name if group else ""),
                    config=LinkConfig(link_url=svc.link_url, heartbeat_interval=svc.settings.heartbeat_interval,
                                      renew_before_days=svc.settings.renew_before_days))
        _audit_refusal(svc, "terminal.enroll", refusal.reason, remote, refusal.target, refusal.dealer_id)
        raise HTTPException(refusal.status, refusal.reason)

    return await run_in_threadpool(work)


async def _signed(request: Request, svc: Services, dealer: str, number: str, work: Any) -> Any:
    """Verify the request as coming from terminal dealer/number, then run work(session, terminal) in one transaction."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"body larger than {MAX_BODY} bytes")
    headers = {k: v for k, v in request.headers.items()}
    remote = _remote(request)
    target = f"terminal {number}"

    def run() -> Any:
        try:
            with svc.db.session() as session:
                verified = verify_terminal_request(
                    session, svc.ca, method=request.method, url=str(request.url), headers=headers, body=body,
                    dealer=dealer, number=number, now=utcnow(), max_age=svc.settings.signature_max_age)
                return work(session, verified, body)
        except RequestRefused as refusal:
            _audit_refusal(svc, "terminal.request", refusal.reason, remote, f"{target} {request.url.path}",
                           actor=f"key {refusal.key_id[:16]}" if refusal.key_id else "unknown")
            raise HTTPException(refusal.status, refusal.reason) from refusal

    return await run_in_threadpool(run)


@router.post("/terminals/{dealer}/{number}/heartbeat", response_model=HeartbeatResponse,
             summary="A terminal's periodic report (signed)")
async def heartbeat(dealer: str, number: str, request: Request, svc: ServicesDep) -> Any:
    """Record a heartbeat: the terminal is online; tell it whether to renew its certificate. (On the link listener
    `provisioning.heartbeat.HeartbeatRoute` answers this path first, with the same function.)"""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"body larger than {MAX_BODY} bytes")
    return await run_in_threadpool(
        lambda: record_heartbeat(svc, method=request.method, url=str(request.url), headers=dict(request.headers),
                                 body=body, dealer=dealer, number=number, remote=_remote(request)))


@router.post("/terminals/{dealer}/{number}/certificate", response_model=CertificateResponse,
             summary="Renew the terminal's certificate (signed with the current one)")
async def renew(dealer: str, number: str, request: Request, svc: ServicesDep) -> Any:
    """Issue a new certificate for a new key before the current one expires."""

    def work(session: Any, verified: VerifiedTerminal, body: bytes) -> CertificateResponse:
        try:
            csr = RenewRequest.model_validate_json(body)
        except ValueError as exc:
            raise HTTPException(400, f"renewal body: expected {{\"csr\": PEM}}: {exc}") from exc
        try:
            issued = enrollment.renew(session, svc.ca, verified.terminal_id, csr.csr.encode(), utcnow(),
                                      svc.settings.certificate_days)
        except enrollment.EnrollmentRefused as exc:
            raise HTTPException(exc.status, exc.reason) from exc
        return CertificateResponse(certificate=issued.certificate_pem, ca_chain=svc.ca.pem.decode())

    return await _signed(request, svc, dealer, number, work)


@router.get("/crl", summary="The certificate revocation list (PEM)", response_class=Response)
async def crl(svc: ServicesDep) -> Response:
    """Every revoked terminal certificate, signed by the CA."""

    def work() -> bytes:
        with svc.db.session() as session:
            return enrollment.certificate_revocation_list(session, svc.ca)

    return Response(await run_in_threadpool(work), media_type="application/pkix-crl")


@router.get("/ca", summary="The CA certificate (PEM); compare its fingerprint with the one the dealer shows",
            response_class=Response)
async def ca_certificate(svc: ServicesDep) -> Response:
    """The CA certificate."""
    return Response(svc.ca.pem, media_type="application/x-pem-file")
