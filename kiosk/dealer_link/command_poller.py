"""The terminal's remote-command loop: long-polls its dealer service over the authenticated link (the terminal
always calls out, so it is reached behind NAT), runs each command id at most once (journaled before it runs; a
repeat gets the stored result back), and reports every outcome until the service has it."""

from __future__ import annotations

import base64
import json
import logging
import os
import shlex
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from kiosk.dealer_link import corrections as _corrections  # noqa: F401  (registers the `correction` kind)
from kiosk.dealer_link import fiscal_commands as _fiscal_commands  # noqa: F401  (registers fiscal_intents/_resolve)
from kiosk.dealer_link.client import TIMEOUT, DealerLink
from kiosk.dealer_link.command_journal import CommandJournal, Record
from kiosk.dealer_link.commands import DEFAULT_REBOOT, HANDLERS, CommandContext, CommandFailed, log_ring
from kiosk.dealer_link.identity import LinkError

if TYPE_CHECKING:
    from kiosk.app import Terminal

log = logging.getLogger(__name__)
POLL_WAIT = 25.0  # seconds the service holds a poll open when there is nothing to do
KEEPALIVE = 5.0  # seconds between the spaces the service sends meanwhile (and the longest a stop waits)
RETRY_AFTER = 10.0  # after a failed poll (service unreachable)
REBOOT_ENV = "KIOSK_REBOOT_COMMAND"  # the command `reboot` runs, e.g. "sudo -n /usr/bin/systemctl reboot"


class CommandPoller:
    """One thread: poll, run, report; stopping it never leaves a command half-journaled."""

    def __init__(self, terminal: Terminal, folder: Path, wait: float = POLL_WAIT,
                 reboot_command: tuple[str, ...] | None = None) -> None:
        self.terminal, self.folder, self.wait, self.keepalive = terminal, folder, wait, KEEPALIVE
        self.reboot_command = reboot_command or tuple(shlex.split(os.environ.get(REBOOT_ENV, ""))) or DEFAULT_REBOOT
        self.link = DealerLink(folder)
        self.journal = CommandJournal(folder / "commands.sqlite", run=uuid.uuid4().hex)
        self.ran: list[str] = []  # ids this process ran (a repeat is never among them twice)
        self.polls = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dealer-commands", daemon=True)
        log_ring()  # from now on the log lines are kept for `log_tail`

    @property
    def path(self) -> str:
        """The API path of this terminal's commands."""
        return f"{self.link.terminal_path}/commands"

    def start(self) -> CommandPoller:
        """Start polling (commands interrupted by the last stop are settled first)."""
        self._thread.start()
        return self

    def _run(self) -> None:
        self._settle_interrupted()
        while not self._stop.is_set():
            self._report_pending()
            try:
                commands = self._poll()
            except LinkError as exc:
                self.last_error = str(exc)
                log.warning("dealer link commands: %s", exc)
                self._stop.wait(RETRY_AFTER)
                continue
            self.polls += 1
            self.last_error = ""
            for item in commands:
                if self._stop.is_set():
                    return  # not journaled, so not started: the service hands it out again
                self.handle(item)

    def _poll(self) -> list[dict[str, Any]]:
        """One long poll: the commands handed out (none when it ran out, or when the loop is stopping)."""
        path = f"{self.path}?wait={self.wait:g}&keepalive={self.keepalive:g}"
        data = b""
        try:
            # each read waits at most a few keepalives: a silent link is a dead one
            timeout = httpx.Timeout(TIMEOUT, read=max(TIMEOUT, 3 * self.keepalive))
            with self.link.http.stream("GET", path, headers=self.link.signed_headers("GET", path),
                                       timeout=timeout) as reply:
                if reply.status_code >= 400:
                    raise LinkError(f"GET {path} refused ({reply.status_code}): {reply.read().decode()[:300]}")
                for chunk in reply.iter_bytes():
                    if self._stop.is_set():
                        return []  # hanging up: a command not yet handed out stays queued
                    data += chunk
        except httpx.HTTPError as exc:
            raise LinkError(f"dealer service unreachable at {self.link.settings.link_url}: {exc}") from exc
        try:
            commands = json.loads(data)["commands"]
        except (ValueError, KeyError, TypeError) as exc:
            raise LinkError(f"GET {path}: not a list of commands: {data[:200]!r}") from exc
        return list(commands)

    def handle(self, item: dict[str, Any]) -> None:
        """Run one delivered command once, or answer a repeat with what the first delivery did."""
        command_id, kind = str(item["id"]), str(item["kind"])
        arguments = item.get("arguments") or {}
        existing = self.journal.begin(command_id, kind, arguments)
        if existing is not None:
            if existing.finished:
                self._report(existing)
            elif existing.run != self.journal.run:
                self._settle(existing)
            return  # else it is running in this process right now
        self.ran.append(command_id)
        ctx = CommandContext(self.terminal, command_id, kind, self.folder, self._stop, self.reboot_command,
                             exiting=lambda: self.journal.exiting(command_id))
        handler = HANDLERS.get(kind)
        log.info("remote command %s: %s %s", command_id, kind, arguments)
        try:
            if handler is None:
                raise CommandFailed("not_available", f"this terminal has no command {kind!r}")
            result, state = handler(ctx, arguments), "done"
        except CommandFailed as exc:
            result, state = {"error": exc.error, "detail": exc.detail}, "failed"
        except Exception as exc:  # a broken handler fails its command, never the loop
            log.exception("remote command %s (%s) failed", command_id, kind)
            result, state = {"error": "exception", "detail": f"{type(exc).__name__}: {exc}"}, "failed"
        self.journal.finish(command_id, state, result, ctx.attachment)
        log.info("remote command %s: %s", command_id, state)
        record = self.journal.get(command_id)
        if record is not None:
            self._report(record)

    def _settle(self, record: Record) -> None:
        """A command an earlier run of the terminal started and did not finish: never run again. A restart or
        reboot that reached its exit did its job; anything else stopped half-way and its outcome is unknown."""
        if record.state == "exiting":
            self.journal.finish(record.id, "done", {"restarted": True, "detail": "the terminal started again"})
        else:
            self.journal.finish(record.id, "failed", {
                "error": "interrupted", "outcome": "unknown",
                "detail": f"the terminal stopped while running {record.kind}; it is not run again"})
        settled = self.journal.get(record.id)
        if settled is not None:
            self._report(settled)

    def _settle_interrupted(self) -> None:
        for record in self.journal.left_over():
            if not record.finished:
                self._settle(record)

    def _report_pending(self) -> None:
        for record in self.journal.left_over():
            if record.finished:
                self._report(record)

    def _report(self, record: Record) -> None:
        """Send an outcome; kept for the next loop when the service cannot be reached."""
        body: dict[str, Any] = {"state": record.state, "result": record.result}
        if record.png is not None:
            body["png_base64"] = base64.b64encode(record.png).decode()
        try:
            self.link.request("POST", f"{self.path}/{record.id}/result", body)
        except Exception as exc:
            if self._stop.is_set() or not isinstance(exc, LinkError):
                if not self._stop.is_set():
                    raise
                return  # stopping: the next start reports it
            if "(404)" not in str(exc):
                log.warning("dealer link commands: result of %s not reported yet: %s", record.id, exc)
                return
            log.warning("dealer link commands: the service does not know command %s any more", record.id)
        self.journal.reported(record.id)

    def close(self) -> None:
        """Stop polling (a poll in flight is cut off) and close the link and the journal."""
        self._stop.set()
        if self._thread.is_alive():  # a poll hangs up at its next keepalive; a finishing command reports first
            self._thread.join(timeout=self.keepalive + TIMEOUT + 5)
        self.link.close()
        self.journal.close()


def start_commands(terminal: Terminal, folder: Path, wait: float = POLL_WAIT) -> CommandPoller | None:
    """Start the command loop of an enrolled terminal (None when the link cannot be used: payments never depend
    on the dealer service)."""
    try:
        return CommandPoller(terminal, folder, wait).start()
    except (LinkError, OSError, ValueError) as exc:
        log.warning("remote commands not started: %s", exc)
        return None
