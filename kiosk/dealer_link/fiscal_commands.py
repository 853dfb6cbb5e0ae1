"""The dealer's remote commands for a fiscal intent held by a replaced fiscal drive: `fiscal_intents` shows the
open ones, `fiscal_resolve` settles one as a person read it from the old drive (kiosk.fiscal.support), between
payments and under the registrar's lock, so no receipt is being made meanwhile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiosk.dealer_link.commands import HANDLERS, CommandContext, CommandFailed
from kiosk.fiscal.support import ResolveRefused, open_intents, resolve_intent


def fiscal_intents(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """The open fiscal intents of this terminal."""
    return {"intents": open_intents(ctx.terminal.journal)}


def fiscal_resolve(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """Settle one intent (made on the old drive with FD/FP/time, or not made); refused with the reason if unsafe."""
    terminal = ctx.terminal
    fiscal = terminal.receipts.fiscal
    if fiscal is None:
        raise CommandFailed("no_registrar", "this terminal prints no fiscal receipts")
    try:
        intent, made = int(args["intent"]), bool(args.get("made"))
        fd = int(args["fd"]) if args.get("fd") is not None else None
        fp = int(args["fp"]) if args.get("fp") is not None else None
        at = datetime.fromisoformat(str(args["at"])) if args.get("at") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandFailed("bad_arguments", f"intent, made, and for made fd, fp, at: {exc}") from exc
    who = str(args.get("by") or "dealer support")

    def settle() -> dict[str, Any]:
        with fiscal.lock:
            return resolve_intent(terminal.journal, terminal.config.timezone, intent, made, who, fd, fp, at)

    try:
        return ctx.between_payments("fiscal intent", settle)
    except ResolveRefused as exc:
        raise CommandFailed("refused", str(exc)) from exc


HANDLERS["fiscal_intents"] = fiscal_intents
HANDLERS["fiscal_resolve"] = fiscal_resolve
