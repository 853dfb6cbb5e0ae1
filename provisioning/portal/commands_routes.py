"""The portal's remote commands: buttons on a terminal's page (technicians and admins), the terminal's command list
with states, one command's result (log lines as text, a screenshot as an image). Support may read, not send."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from provisioning.commands import service
from provisioning.commands.models import KINDS, Command
from provisioning.db.models import Terminal, utcnow
from provisioning.portal.i18n import TEXTS
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, _own_terminal, render, signed

router = APIRouter(include_in_schema=False)
PENDING = ("queued", "delivered")


def page(method: str, path: str, permission: str, on: APIRouter | None = None) -> Callable[[Any], Any]:
    """Register a commands route (on this router unless told) with the permission it needs (the authorization
    test walks them all)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return (on or router).api_route(path, methods=[method])


def _command(session: Session, terminal_id: int, command_id: str, with_attachment: bool = False) -> Command:
    query = select(Command).where(Command.id == command_id, Command.terminal_id == terminal_id)
    if with_attachment:
        query = query.options(undefer(Command.attachment))
    found = session.scalar(query)
    if found is None:
        raise PortalError(404, "not_found")
    return found


@page("GET", "/commands", "commands.view")
def fleet_commands(request: Request) -> Response:
    """The dealer's newest remote commands across every terminal (the nav's way in)."""
    with signed(request, "commands.view") as (session, who):
        rows = session.execute(select(Command, Terminal.number).join(Terminal, Command.terminal_id == Terminal.id)
                               .where(Command.dealer_id == who.dealer_id)
                               .order_by(Command.created_at.desc(), Command.id).limit(200)).all()
        return render(request, "commands_fleet.html", who, rows=rows,
                      pending=any(c.state in PENDING for c, _ in rows))


@page("GET", "/terminals/{terminal_id}/commands", "commands.view")
def commands_page(terminal_id: int, request: Request) -> Response:
    """A terminal's remote commands, newest first; the page reloads itself while any is under way."""
    with signed(request, "commands.view") as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        rows = service.recent(session, terminal.id)
        return render(request, "commands_list.html", who, terminal=terminal, rows=rows, kinds=KINDS,
                      pending=any(r.state in PENDING for r in rows))


@page("POST", "/terminals/{terminal_id}/commands", "commands.send")
def send_command(terminal_id: int, request: Request, kind: Annotated[str, Form(max_length=40)],
                 message: Annotated[str, Form(max_length=service.MAX_MESSAGE)] = "",
                 lines: Annotated[int, Form(ge=1, le=service.MAX_LOG_LINES)] = 200,
                 csrf: Annotated[str, Form()] = "") -> Response:
    """Queue a command for the terminal (audited); it runs when the terminal next polls, between payments."""
    with signed(request, "commands.send", csrf, post=True) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        if kind == "fiscal_resolve":  # admins only, through its own form (provisioning.portal.fiscal_routes)
            raise PortalError(403, "forbidden")
        try:
            service.queue(session, terminal, kind, {"message": message, "lines": lines}, who.email, utcnow(),
                          timedelta(hours=1), request.client.host if request.client else "")
        except service.CommandError as exc:
            raise PortalError(400, "command_refused") from exc
    request.app.state.command_bell.ring(terminal_id)  # after the commit: a poll waiting here hands it out at once
    return RedirectResponse(f"/terminals/{terminal_id}/commands", 303)


@page("GET", "/terminals/{terminal_id}/commands/{command_id}", "commands.view")
def command_page(terminal_id: int, command_id: str, request: Request) -> Response:
    """One command: who asked, when, its state, and what the terminal reported."""
    with signed(request, "commands.view") as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        found = _command(session, terminal.id, command_id)
        try:
            result = json.loads(found.result) if found.result else {}
        except ValueError:
            result = {"text": found.result}
        return render(request, "commands_one.html", who, terminal=terminal, command=found, result=result,
                      arguments=json.loads(found.arguments or "{}"), pending=found.state in PENDING,
                      result_text=json.dumps(result, indent=2, ensure_ascii=False))


@page("GET", "/terminals/{terminal_id}/commands/{command_id}/screenshot.png", "commands.view")
def screenshot(terminal_id: int, command_id: str, request: Request) -> Response:
    """A screenshot command's PNG."""
    with signed(request, "commands.view") as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        found = _command(session, terminal.id, command_id, with_attachment=True)
        if found.attachment is None or found.attachment_type != "image/png":
            raise PortalError(404, "not_found")
        return Response(found.attachment, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


# The words of these pages, added to the portal's two languages (the i18n test checks both have every key).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "commands": "Remote commands", "all_commands": "All commands and results", "command": "Command",
        "send": "Send", "lock_message": "Message on the screen",
        "log_lines": "Lines", "requested_by": "Requested by", "delivered": "Delivered", "finished": "Finished",
        "result": "Result", "screenshot_of": "Screenshot of terminal", "no_commands": "No commands yet.",
        "command_refused": "The command was refused.", "commands_note": "Commands run when no payment is in "
        "progress; a lock waits for the current payer to finish.",
        "kind_lock": "Lock (out of service)", "kind_unlock": "Unlock", "kind_restart": "Restart the application",
        "kind_reboot": "Reboot", "kind_screenshot": "Screenshot", "kind_log_tail": "Last log lines",
        "kind_sync_now": "Sync now", "kind_encashment_report": "Encashment report",
        "kind_test_receipt": "Print a test receipt", "kind_fiscal_intents": "Open fiscal intents",
        "kind_fiscal_resolve": "Settle a fiscal intent (replaced fiscal drive)",
        "cmd_queued": "queued", "cmd_delivered": "delivered",
        "cmd_done": "done", "cmd_failed": "failed", "cmd_expired": "expired", "arguments": "Arguments",
    },
    "ru": {
        "commands": "Удалённые команды", "all_commands": "Все команды и результаты", "command": "Команда",
        "send": "Отправить",
        "lock_message": "Сообщение на экране", "log_lines": "Строк", "requested_by": "Отправил",
        "delivered": "Доставлена", "finished": "Завершена", "result": "Результат",
        "screenshot_of": "Снимок экрана терминала", "no_commands": "Команд пока нет.",
        "command_refused": "Команда отклонена.", "commands_note": "Команды выполняются, когда платёж не идёт; "
        "блокировка ждёт, пока текущий плательщик закончит.",
        "kind_lock": "Заблокировать (не работает)", "kind_unlock": "Разблокировать",
        "kind_restart": "Перезапустить приложение", "kind_reboot": "Перезагрузить",
        "kind_screenshot": "Снимок экрана", "kind_log_tail": "Последние строки журнала",
        "kind_sync_now": "Синхронизировать сейчас", "kind_encashment_report": "Отчёт об инкассации",
        "kind_test_receipt": "Напечатать тестовый чек", "kind_fiscal_intents": "Незавершённые фискальные документы",
        "kind_fiscal_resolve": "Закрыть фискальный документ (заменён ФН)",
        "cmd_queued": "в очереди", "cmd_delivered": "доставлена",
        "cmd_done": "выполнена", "cmd_failed": "не выполнена", "cmd_expired": "истекла", "arguments": "Параметры",
    },
}
for _lang, _words in WORDS.items():
    TEXTS[_lang].update(_words)
