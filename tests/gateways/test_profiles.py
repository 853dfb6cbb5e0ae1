"""Gateway profiles: how each declared provider behaviour decides the resolution of an unknown outcome."""

from __future__ import annotations

import pytest

from kiosk.gateways.profiles import PROFILES, Repeat, Resolution, profile_from


@pytest.mark.parametrize(("name", "after_unknown", "after_retry"), [
    ("standard", Resolution.STATUS, Resolution.STATUS),
    ("osmp", Resolution.RESEND, Resolution.RESEND),
    ("osmp-status", Resolution.STATUS, Resolution.STATUS),
    ("ubilling", Resolution.RESEND, Resolution.RESEND),
    ("abills-old", Resolution.RESEND, Resolution.RESEND),
    ("rebooking", Resolution.ATTENTION, Resolution.RESEND),  # never resent after an unknown
    ("json", Resolution.STATUS, Resolution.STATUS),
    ("cyberplat", Resolution.STATUS, Resolution.STATUS),
])
def test_resolution_of_each_profile(name, after_unknown, after_retry):
    profile = PROFILES[name]
    assert profile.resolution("unknown") is after_unknown
    assert profile.resolution("retry") is after_retry
    assert profile.resend_safe is (profile.repeat is not Repeat.REBOOKS)


def test_duplicate_answers_are_read_only_where_declared():
    assert PROFILES["ubilling"].is_duplicate_answer(300, "Duplicate transaction")
    assert not PROFILES["ubilling"].is_duplicate_answer(300, "Other error")
    assert PROFILES["abills-old"].is_duplicate_answer(8, "Double request")
    assert not PROFILES["osmp"].is_duplicate_answer(300, "Duplicate transaction")
    assert not PROFILES["rebooking"].is_duplicate_answer(8, "Double request")


def test_a_profile_is_chosen_by_name_with_a_clear_error():
    assert profile_from({}, "osmp", "main") is PROFILES["osmp"]
    assert profile_from({"profile": "ubilling"}, "osmp", "main") is PROFILES["ubilling"]
    with pytest.raises(ValueError, match="gateway main: option 'profile' must be one of .*got 'qiwi'"):
        profile_from({"profile": "qiwi"}, "osmp", "main")
