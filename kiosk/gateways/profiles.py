"""How a processing system behaves when a payment is repeated: a declared profile per gateway.

The outbox decides how to resolve an attempt whose outcome is unknown from the profile, never by guessing:
a status query where one exists, an identical resend where a repeat cannot book twice, and otherwise a person
(needs attention). Real providers differ: the protocol's rule is "answer a repeat with the first booking",
Ubilling's QIWI frontend answers 300 "Duplicate transaction" without prv_txn, old ABillS answers 8 "Double
request", and some providers simply book every pay again.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Repeat(enum.StrEnum):
    """What a provider does with a pay it has already booked."""

    SAME = "same"  # answers with the first booking (the protocol's rule)
    DUPLICATE_ERROR = "duplicate-error"  # answers an error that means "already booked", without the booking
    REBOOKS = "rebooks"  # books it again: a resend after a lost reply may pay twice


class Resolution(enum.StrEnum):
    """How the outbox settles an attempt whose outcome it does not know."""

    STATUS = "status"  # ask the gateway's status query
    RESEND = "resend"  # send the identical request again
    ATTENTION = "attention"  # neither is safe: support must ask the provider


@dataclass(frozen=True, slots=True)
class Profile:
    """One gateway's declared behaviour on repeats; `duplicate_code`/`duplicate_text` describe its duplicate answer."""

    name: str
    repeat: Repeat = Repeat.SAME
    status_query: bool = True
    duplicate_code: int | None = None
    duplicate_text: str = ""

    @property
    def resend_safe(self) -> bool:
        """Whether repeating the identical request can never book a second time."""
        return self.repeat is not Repeat.REBOOKS

    def resolution(self, last_outcome: str) -> Resolution:
        """How to settle a pinned attempt whose last outcome (journal kind) was `last_outcome`."""
        if self.status_query:
            return Resolution.STATUS
        if self.resend_safe or last_outcome in ("retry", "retry_not_executed"):
            # a definite "not done, repeat later" is safe to repeat even where repeats re-book
            return Resolution.RESEND
        return Resolution.ATTENTION

    def is_duplicate_answer(self, code: int, comment: str) -> bool:
        """Whether this answer to a repeat is the provider's way of saying "already booked"."""
        return (self.repeat is Repeat.DUPLICATE_ERROR and code == self.duplicate_code
                and re.search(self.duplicate_text, comment, re.IGNORECASE) is not None)


PROFILES: dict[str, Profile] = {
    # idempotent by its key, with a status query: what every adapter is unless it says otherwise
    "standard": Profile("standard", Repeat.SAME, status_query=True),
    # OSMP as the protocol describes it: a repeat gets result 0 and the same prv_txn; no status command
    "osmp": Profile("osmp", Repeat.SAME, status_query=False),
    # OSMP providers that also answer command=status
    "osmp-status": Profile("osmp-status", Repeat.SAME, status_query=True),
    # Ubilling's QIWI frontend: a repeated pay gets 300 "Duplicate transaction" and no prv_txn
    "ubilling": Profile("ubilling", Repeat.DUPLICATE_ERROR, status_query=False, duplicate_code=300,
                        duplicate_text=r"duplicate"),
    # old ABillS: a repeated pay gets 8 "Double request"
    "abills-old": Profile("abills-old", Repeat.DUPLICATE_ERROR, status_query=False, duplicate_code=8,
                          duplicate_text=r"double"),
    # providers that book every pay again and have no status query: an unknown outcome goes to a person
    "rebooking": Profile("rebooking", Repeat.REBOOKS, status_query=False),
    # idempotency key plus GET /v1/payments/{key}
    "json": Profile("json", Repeat.SAME, status_query=True),
    # SESSION plus pay_status.cgi
    "cyberplat": Profile("cyberplat", Repeat.SAME, status_query=True),
}


def profile_from(options: Mapping[str, Any], default: str, gateway: str) -> Profile:
    """The gateway's profile: option `profile` names one of PROFILES (default: the adapter's own)."""
    name = str(options.get("profile", default))
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"gateway {gateway}: option 'profile' must be one of {', '.join(sorted(PROFILES))}, "
                         f"got {name!r}") from None
