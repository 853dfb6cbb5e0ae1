"""The remote "sync now" command pulls the theme as well as the configuration: the theme's answer is reported
beside the configuration's, and a theme that cannot be fetched now does not fail the configuration just pulled.
(The pulls themselves run against a real service in test_config_push.py and test_theme_delivery.py.)"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.dealer_link import commands, config_sync  # noqa: F401  (config_sync registers the sync_now handler)
from kiosk.dealer_link.identity import LinkError


class Pull:
    """Stands in for a sync loop: answers `sync_now` with a value or an error, counting the calls."""

    def __init__(self, answer: Any) -> None:
        self.answer, self.calls = answer, 0

    def sync_now(self, wait: float = 0.0) -> Any:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _run(terminal: Any) -> dict[str, Any]:
    ctx = commands.CommandContext(terminal=terminal, command_id="c1", kind="sync_now", folder=Path("."),
                                  stopping=threading.Event())
    return commands.HANDLERS["sync_now"](ctx, {})


def test_sync_now_asks_for_the_theme_too():
    terminal = SimpleNamespace(config_sync=Pull({"outcome": "applying", "version": 7}),
                               theme_sync=Pull({"theme": "brand-1a2b", "changed": True}))
    result = _run(terminal)
    assert result == {"outcome": "applying", "version": 7, "theme": {"theme": "brand-1a2b", "changed": True}}
    assert terminal.config_sync.calls == terminal.theme_sync.calls == 1


def test_a_theme_that_cannot_be_fetched_is_reported_beside_the_configuration():
    terminal = SimpleNamespace(config_sync=Pull({"outcome": "unchanged"}),
                               theme_sync=Pull(LinkError("dealer service unreachable: timed out")))
    assert _run(terminal) == {"outcome": "unchanged", "theme_error": "dealer service unreachable: timed out"}


def test_a_failed_configuration_pull_fails_the_command_without_asking_for_the_theme():
    terminal = SimpleNamespace(config_sync=None, theme_sync=Pull({"theme": "x", "changed": False}))
    with pytest.raises(commands.CommandFailed):
        _run(terminal)
    assert terminal.theme_sync.calls == 0
