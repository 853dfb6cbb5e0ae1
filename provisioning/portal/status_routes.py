"""The payer's status page: a receipt's QR opens `/s/<terminal>/<operation>-<nonce>/<signature>` on a phone.

No sign-in: the terminal's signature over the reference (kiosk.status_link) is the only key, checked against every
certificate the terminal ever held, so numbers cannot be walked. The page says what happened to the money
(delivered / in progress / needs attention), the provider, the sum, the masked account and the support phone, in
Russian or English, and nothing else about the payer. An unknown or forged link gets the same answer as a link to
nothing, so the page tells nobody which terminals exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config_document import parse_text
from kiosk.errors import ConfigError
from kiosk.money import Money
from kiosk.receipt_format import format_account
from kiosk.status_link import StatusRef, parse_path, verify
from kiosk.story import Reversal
from provisioning.config.bundles import assigned_version
from provisioning.db.models import Certificate, Terminal
from provisioning.journal.lookup import by_number, reversal
from provisioning.journal.models import JournalOperation
from provisioning.portal.payer_texts import TEXTS, payer_language
from provisioning.portal.routes import PUBLIC_PAGES

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
PATH = "/s/{terminal}/{ref}/{token}"
PUBLIC_PAGES.add(("GET", PATH))

#: the journal's state → what the payer is told
PAYER_STATE = {"delivered": "delivered", "committed": "in_progress", "collecting": "in_progress",
               "needs_attention": "attention", "cancelled": "cancelled"}


@dataclass(frozen=True)
class Shown:
    """What the page shows of one payment (nothing more leaves the service)."""

    state: str
    provider: str
    cash: str
    credited: str
    account: str
    when: str


@router.get(PATH)
def status_page(terminal: str, ref: str, token: str, request: Request, lang: str = "") -> Response:
    """One payment's status for the payer who holds its receipt."""
    language = payer_language(lang, request.headers.get("accept-language"))
    status = parse_path(f"/{terminal}/{ref}/{token}")
    with request.app.state.services.db.session() as session:
        owner = _signer(session, status) if status else None
        if owner is None or status is None:
            return _page(request, language, 404, state="unknown")
        document = _document(session, owner)
        op = _operation(session, owner, status)
        shown = _shown(op, owner, document, language, reversal(session, op)) if op else None
        phone = _support_phone(document, op.provider if op else "")
    return _page(request, language, 200, state=shown.state if shown else "not_reported", shown=shown,
                 terminal=owner.number, operation=status.operation, phone=phone)


def _page(request: Request, lang: str, code: int, **context: Any) -> Response:
    response = templates.TemplateResponse(request, "payer_status.html",
                                          {"t": TEXTS[lang], "lang": lang, "path": request.url.path, **context},
                                          status_code=code)
    # a status changes; a phone's cache must not keep "in progress" after the money arrived
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never hand it to another site
    return response


def _signer(session: Session, status: StatusRef) -> Terminal | None:
    """The terminal with this number whose identity key (any it ever held) signed the reference."""
    for terminal in session.scalars(select(Terminal).where(Terminal.number == status.terminal)):
        for pem in session.scalars(select(Certificate.pem).where(Certificate.terminal_id == terminal.id)):
            key = x509.load_pem_x509_certificate(pem.encode()).public_key()
            if isinstance(key, ec.EllipticCurvePublicKey) and verify(status, key):
                return terminal
    return None


def _operation(session: Session, terminal: Terminal, status: StatusRef) -> JournalOperation | None:
    """The uploaded operation the link names (its nonce tells apart two that share a number), if uploaded yet."""
    suffix = "" if status.nonce is None else f"-{status.nonce:06d}"
    for _, op in by_number(session, terminal.dealer_id, terminal.number, status.operation):
        if op.op_key == f"T{terminal.number}-{status.operation:010d}{suffix}":
            return op
    return None


def _document(session: Session, terminal: Terminal) -> dict[str, Any]:
    version = assigned_version(session, terminal)
    try:
        return parse_text(version.body) if version is not None else {}
    except ConfigError:
        return {}


def _provider(document: dict[str, Any], code: str) -> dict[str, Any]:
    for provider in document.get("catalog", {}).get("providers", []):
        if isinstance(provider, dict) and provider.get("id") == code:
            return provider
    return {}


def _support_phone(document: dict[str, Any], provider: str) -> str:
    """The dealer's support desk from the pushed configuration, else the provider's own phone."""
    return str(document.get("receipts", {}).get("support_phone") or _provider(document, provider).get("phone") or "")


def _shown(op: JournalOperation, terminal: Terminal, document: dict[str, Any], lang: str,
           reversal: Reversal | None) -> Shown:
    name = _provider(document, op.provider).get("name")
    provider = (name.get(lang) or name.get("ru") or op.provider) if isinstance(name, dict) else str(name or op.provider)
    try:
        zone = ZoneInfo(terminal.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = op.created_utc.astimezone(zone)
    # the account is masked whatever it is: the page may be opened by anyone who picks up the receipt
    digits = "".join(c for c in op.account if c.isalnum())
    masked = format_account(op.account, "card") if len(digits) >= 8 else "*" * max(len(digits) - 2, 0) + digits[-2:]
    credited = op.credited if op.credited is not None else op.cash
    # a reversal asked for and unanswered: the payer who came back to support hears exactly that, not "delayed"
    state = "reversal" if reversal else PAYER_STATE.get(op.state, "in_progress")
    return Shown(state, provider, Money(op.cash, op.currency).format(lang),
                 Money(credited, op.currency).format(lang), masked,
                 local.strftime("%d.%m.%Y %H:%M" if lang == "ru" else "%Y-%m-%d %H:%M") + f" ({local.tzname()})")
