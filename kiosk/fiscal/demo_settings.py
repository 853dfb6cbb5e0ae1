"""The demo dealer's fiscal data, and a terminal.toml turned to print on a fiscal registrar (demo, simulate, trials)."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.offline_queue.files import write_atomically

#: a paying agent (103-FZ) on the simplified taxation system, as a small dealer usually is
DEMO_FISCAL = """
[fiscal]
agent_sign = "paying_agent"
taxation = "usn_income"
agent_phone = "+7 800 000-00-01"
operator_phones = ["+7 800 000-00-02"]
"""


def printer_table(port: str, **options: str | int) -> str:
    """A `[devices.printer]` table for a fiscal registrar on a serial port."""
    extra = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in options.items())
    return f'[devices.printer]\nlink = "fiscal"\nport = "{port}"\n{extra}'


def make_fiscal(config_path: Path, port: str, **options: str | int) -> Path:
    """Rewrite a terminal.toml in place: the printer becomes a fiscal registrar and the demo fiscal data is added."""
    text = config_path.read_text(encoding="utf-8")
    text, count = re.subn(r"\[devices\.printer\]\n(?:[^\[\n][^\n]*\n)*", printer_table(port, **options) + "\n", text)
    if count != 1:
        raise ValueError(f"{config_path}: no [devices.printer] table to replace")
    if "[fiscal]" not in text:
        text += DEMO_FISCAL
    write_atomically(config_path, text.encode("utf-8"))
    return config_path
