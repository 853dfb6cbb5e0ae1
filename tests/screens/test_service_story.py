"""The service menu tells a needs-attention payment's whole story in the words `kiosk journal lookup` and the
dealer service use (one module, kiosk/story.py), so the technician and support read the same facts."""

from __future__ import annotations

from pathlib import Path

from kiosk_ui import driven_ui

from kiosk.story import from_journal


def test_the_attention_section_tells_the_same_story_as_the_lookup(tmp_path: Path) -> None:
    with driven_ui(tmp_path, gateway_mode="decline", lang="en") as kiosk:
        kiosk.to_cash("9161112233")
        kiosk.insert(100)
        kiosk.tap("pay")
        kiosk.settle()
        op = kiosk.terminal.journal.last_operation()
        assert op.state == "needs_attention"
        story = from_journal(kiosk.terminal.journal, op.operation)
        expected = [e.text for e in story.events(kiosk.terminal.catalog.providers)]
    with driven_ui(tmp_path, gateway_mode="decline", lang="en") as kiosk:  # later, the technician at the terminal
        kiosk.login("1234")
        kiosk.tap("section:attention")
        shown = [str(value) for _, value in kiosk.ui.screen.rows]
    assert expected and all(text in shown for text in expected), (expected, shown)
    assert any("bill 100.00 RUB stacked" in text for text in shown)
    assert any("→ declined" in text for text in shown)
