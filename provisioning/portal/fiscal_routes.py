"""The portal's form for the remote command `fiscal_resolve`: settle a fiscal intent held by a replaced fiscal drive
as a person read it from the old drive. Admins only: it decides whether a payer's receipt is made again."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from provisioning.commands import service
from provisioning.db.models import Terminal, utcnow
from provisioning.portal.commands_routes import page
from provisioning.portal.i18n import TEXTS
from provisioning.portal.routes import PortalError, _own_terminal, render, signed

router = APIRouter(include_in_schema=False)
PERMISSION = "commands.fiscal"
MOST = 0xFFFFFFFF  # FD and FP are 32-bit numbers on the fiscal drive


@dataclass
class ResolveForm:
    """What the person typed, kept as typed so a refused form comes back filled in."""

    intent: str = ""
    made: str = ""
    fd: str = ""
    fp: str = ""
    at: str = ""
    zone: str = ""


def _whole(text: str, field: str, errors: dict[str, str], least: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if not least <= value <= MOST:
        errors[field] = "fr_err_number"
    return value


def _moment(form: ResolveForm, errors: dict[str, str]) -> str:
    """The document's time in its zone, as ISO 8601 with the offset (the terminal refuses a naive one)."""
    try:
        zone = ZoneInfo(form.zone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        errors["zone"] = "fr_err_zone"
        return ""
    try:
        at = datetime.fromisoformat(form.at.strip().replace(" ", "T"))
    except ValueError:
        errors["at"] = "fr_err_at"
        return ""
    if at.tzinfo is not None:  # a typed offset must agree with nothing else: the zone field says it
        errors["at"] = "fr_err_at"
        return ""
    return at.replace(tzinfo=zone).isoformat()


def parse_resolve(form: ResolveForm) -> tuple[dict[str, Any], dict[str, str]]:
    """The command's arguments, or the field errors (keys of the portal's words) by field."""
    errors: dict[str, str] = {}
    intent = _whole(form.intent, "intent", errors, 1)
    if form.made not in ("made", "not_made"):
        errors["made"] = "fr_err_made"
    if form.made != "made":
        return {"intent": intent, "made": False}, errors
    fd, fp = _whole(form.fd, "fd", errors, 1), _whole(form.fp, "fp", errors, 0)
    return {"intent": intent, "made": True, "fd": fd, "fp": fp, "at": _moment(form, errors)}, errors


def _form_page(request: Request, who: Any, terminal: Terminal, form: ResolveForm, errors: dict[str, str],
               status: int = 200) -> Response:
    return render(request, "commands_fiscal.html", who, status, terminal=terminal, form=asdict(form), errors=errors)


@page("GET", "/terminals/{terminal_id}/fiscal-resolve", PERMISSION, on=router)
def resolve_form(terminal_id: int, request: Request, intent: str = "") -> Response:
    """The empty form (the intents list links here with the intent's number filled in)."""
    with signed(request, PERMISSION) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        return _form_page(request, who, terminal, ResolveForm(intent=intent[:20], zone=terminal.timezone), {})


@page("POST", "/terminals/{terminal_id}/fiscal-resolve", PERMISSION, on=router)
def send_resolve(terminal_id: int, request: Request, intent: Annotated[str, Form(max_length=20)] = "",
                 made: Annotated[str, Form(max_length=10)] = "", fd: Annotated[str, Form(max_length=20)] = "",
                 fp: Annotated[str, Form(max_length=20)] = "", at: Annotated[str, Form(max_length=40)] = "",
                 zone: Annotated[str, Form(max_length=64)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Queue `fiscal_resolve` (audited with its arguments), or show the form again with each field's error."""
    form = ResolveForm(intent, made, fd, fp, at, zone)
    with signed(request, PERMISSION, csrf, post=True) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        arguments, errors = parse_resolve(form)
        if errors:
            return _form_page(request, who, terminal, form, errors, 400)
        try:
            command = service.queue(session, terminal, "fiscal_resolve", arguments, who.email, utcnow(),
                                    service.DEFAULT_TTL, request.client.host if request.client else "")
        except service.CommandError as exc:
            raise PortalError(400, "command_refused") from exc
        command_id = command.id
    request.app.state.command_bell.ring(terminal_id)  # after the commit, as for every other command
    return RedirectResponse(f"/terminals/{terminal_id}/commands/{command_id}", 303)


WORDS: dict[str, dict[str, str]] = {
    "en": {
        "fr_title": "Resolve a fiscal intent", "fr_note": "For a fiscal drive that was replaced: say what the old "
        "drive holds for the intent (see \"Open fiscal intents\"). Made: the receipt is not printed again; not "
        "made: the terminal makes it on the new drive.",
        "fr_intent": "Intent number", "fr_made": "The old fiscal drive", "fr_made_yes": "made the document",
        "fr_made_no": "did not make it", "fr_fd": "FD (document number)", "fr_fp": "FP (fiscal sign)",
        "fr_at": "Date and time on the document (YYYY-MM-DD HH:MM)", "fr_zone": "Time zone of that time",
        "fr_send": "Send to the terminal", "fr_open": "Resolve an intent", "fr_resolve": "Resolve",
        "fr_err_number": "Enter a whole number.", "fr_err_made": "Choose whether the old drive made it.",
        "fr_err_at": "Enter the date and time as YYYY-MM-DD HH:MM, without an offset.",
        "fr_err_zone": "Enter a time zone such as Europe/Moscow.", "fr_errors": "Please correct the marked fields.",
        "fi_none": "No open fiscal intents.", "fi_operation": "Operation", "fi_kind": "Document",
        "fi_fn": "Fiscal drive", "fi_after": "After FD", "fi_total": "Sum", "fi_since": "Since",
        "fi_replaced": "Drive replaced",
    },
    "ru": {
        "fr_title": "Закрыть фискальный документ", "fr_note": "Для заменённого фискального накопителя: укажите, "
        "что старый ФН содержит по документу (см. «Незавершённые фискальные документы»). Сделан: чек повторно не "
        "печатается; не сделан: терминал сделает его на новом ФН.",
        "fr_intent": "Номер документа", "fr_made": "Старый ФН", "fr_made_yes": "документ сделал",
        "fr_made_no": "документ не сделал", "fr_fd": "ФД (номер документа)", "fr_fp": "ФП (фискальный признак)",
        "fr_at": "Дата и время в документе (ГГГГ-ММ-ДД ЧЧ:ММ)", "fr_zone": "Часовой пояс этого времени",
        "fr_send": "Отправить на терминал", "fr_open": "Закрыть документ", "fr_resolve": "Закрыть",
        "fr_err_number": "Введите целое число.", "fr_err_made": "Выберите, сделал ли старый ФН документ.",
        "fr_err_at": "Введите дату и время как ГГГГ-ММ-ДД ЧЧ:ММ, без смещения.",
        "fr_err_zone": "Введите часовой пояс, например Europe/Moscow.",
        "fr_errors": "Исправьте отмеченные поля.",
        "fi_none": "Незавершённых фискальных документов нет.", "fi_operation": "Операция", "fi_kind": "Документ",
        "fi_fn": "ФН", "fi_after": "После ФД", "fi_total": "Сумма", "fi_since": "С",
        "fi_replaced": "ФН заменён",
    },
}
for _lang, _words in WORDS.items():
    TEXTS[_lang].update(_words)
