"""kiosk: firmware for self-service cash payment terminals."""

import os

# pygame greets on import; on a terminal's console and in CLI output that is noise.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

__version__ = "0.1.0"
