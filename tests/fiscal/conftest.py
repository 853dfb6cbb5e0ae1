"""Fixtures of the fiscal tests."""

from __future__ import annotations

import pytest
from fiscal_steps import Rig


@pytest.fixture
def rig(tmp_path):
    """A journal, a fake fiscal drive on a settable clock, and the desk between them."""
    made = Rig(tmp_path)
    yield made
    made.journal.close()
