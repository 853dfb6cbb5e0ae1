"""The polkit rule the install script puts in place: user kiosk may reboot (the dealer's remote command), and
nothing else — no power-off, no suspend, no other user. polkitd runs rules as JavaScript; Node.js runs the same
file here against a stand-in of polkit's API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

RULE = Path(__file__).resolve().parent.parent / "polkit" / "50-kiosk.rules"

HARNESS = """
const fs = require("fs");
const rules = [];
const polkit = {Result: {YES: "yes", NO: "no", NOT_HANDLED: null}, addRule: (f) => rules.push(f)};
new Function("polkit", fs.readFileSync(process.argv[1], "utf8"))(polkit);
const asked = JSON.parse(process.argv[2]);
console.log(JSON.stringify(asked.map(([user, id]) => rules.map((f) => f({id}, {user})).find((r) => r) || null)));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the rule's JavaScript; not installed here")
def test_only_kiosk_may_reboot_and_nothing_more():
    asked = [["kiosk", "org.freedesktop.login1.reboot"], ["kiosk", "org.freedesktop.login1.reboot-multiple-sessions"],
             ["kiosk", "org.freedesktop.login1.power-off"], ["kiosk", "org.freedesktop.login1.suspend"],
             ["someone", "org.freedesktop.login1.reboot"], ["root", "org.freedesktop.systemd1.manage-units"]]
    done = subprocess.run(["node", "-e", HARNESS, str(RULE), json.dumps(asked)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["yes", "yes", None, None, None, None]
