"""Text for the fiscal drive, which stores CP866: what people type mapped to what it can hold."""

from __future__ import annotations

#: characters people type that CP866 lacks, and what prints instead
CP866_SUBSTITUTES = str.maketrans({"«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'", "’": "'",
                                   "–": "-", "—": "-", "₽": "руб.", "\u00a0": " "})


def cp866(text: str) -> str:
    """Text the fiscal drive can store: typographic quotes and dashes replaced, anything else unknown as '?'."""
    return text.translate(CP866_SUBSTITUTES).encode("cp866", errors="replace").decode("cp866")


def unprintable(text: str) -> str:
    """The characters of text that would print as '?' (empty when all can be stored)."""
    return "".join(ch for ch in text.translate(CP866_SUBSTITUTES) if cp866(ch) == "?" and ch != "?")
