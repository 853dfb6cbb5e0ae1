"""Screens see the session, nothing else; production never imports the emulators; no import cycles here.

Walks the AST of the modules (imports inside functions and TYPE_CHECKING blocks count too: a screen that
imports the journal only for a type annotation still reaches into it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KIOSK = ROOT / "kiosk"
#: what a screen may import from outside kiosk.screens: the session's view and values, never its machinery
SCREEN_MAY_IMPORT = ("kiosk.session", "kiosk.session_model", "kiosk.session_view", "kiosk.events", "kiosk.catalog",
                     "kiosk.money", "kiosk.errors", "kiosk.schema")
#: the screenshot walk drives a whole demo terminal, as the demo does; it is not a screen
DEMO_TOOLS = {"screenshots.py"}


def imports(path: Path) -> set[str]:
    """Every module path imported anywhere in a file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from kiosk import events` imports kiosk.events
            found |= {node.module} if node.module != "kiosk" else {f"kiosk.{a.name}" for a in node.names}
    return found


SCREENS = sorted(p for p in (KIOSK / "screens").glob("*.py") if p.name not in DEMO_TOOLS)


@pytest.mark.parametrize("path", SCREENS, ids=lambda p: p.name)
def test_a_screen_sees_the_session_and_nothing_below_it(path: Path) -> None:
    outside = {m for m in imports(path) if m.startswith("kiosk") and not m.startswith("kiosk.screens")}
    wrong = sorted(m for m in outside if m not in SCREEN_MAY_IMPORT)
    assert not wrong, f"{path.name} imports {wrong}; screens get what they need from kiosk.session_view"


@pytest.mark.parametrize("name", ["screens/screenshots.py", "ui_main.py", "session_view.py", "app.py",
                                  *[f"screens/{p.name}" for p in SCREENS]])
def test_only_the_demo_module_imports_the_emulators(name: str) -> None:
    assert not [m for m in imports(KIOSK / name) if m.startswith("kiosk.emulators")]


def test_the_demo_wiring_is_not_imported_back_by_the_ui() -> None:
    # demo_stack ↔ ui_main ↔ screens.screenshots was a cycle: now the demo module uses the UI, never the reverse
    for name in ("ui_main.py", "screens/screenshots.py", "demo_config.py"):
        assert not [m for m in imports(KIOSK / name) if m in ("kiosk.demo_stack", "kiosk.ui_main")], name


def test_widgets_do_not_import_entry_or_grid_back() -> None:
    assert not imports(KIOSK / "screens" / "widgets.py") & {"kiosk.screens.entry", "kiosk.screens.grid"}
