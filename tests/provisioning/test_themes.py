"""Theme packs in the dealer service: the preview is drawn by the terminal's own screens (a picture per moment
and language, different for different themes), a refused upload says why on the page and in the audit log."""

from __future__ import annotations

import functools
import io
import re
import zipfile

import pytest
from PIL import Image, ImageStat
from sqlalchemy import select
from starlette.testclient import TestClient

from kiosk.screens.theme import THEMES_DIR
from kiosk.screens.theme_pack import pack_folder
from kiosk.screens.theme_preview import LANGUAGES, MOMENTS, PREVIEW_SIZE
from provisioning import tenants
from provisioning.app import create_app
from provisioning.db.models import AuditEntry
from provisioning.themes import service
from provisioning.themes.models import ThemePackRow

PASSWORD = "themes test password"


@functools.cache
def previews(theme: str) -> dict[str, bytes]:
    return service.render_previews(pack_folder(THEMES_DIR / theme))


@pytest.mark.slow
def test_the_preview_shows_each_moment_in_both_languages_and_differs_per_theme() -> None:
    wanted = {f"{moment}-{lang}" for moment in MOMENTS for lang in LANGUAGES}
    default, dark = previews("default"), previews("dark")
    assert set(default) == set(dark) == wanted
    for shot in sorted(wanted):
        with Image.open(io.BytesIO(default[shot])) as light, Image.open(io.BytesIO(dark[shot])) as night:
            assert light.format == night.format == "PNG" and light.size == night.size == PREVIEW_SIZE
            assert max(ImageStat.Stat(light.convert("L")).stddev) > 10  # a screen, not a blank picture
            # the dark theme draws the same screen darker
            assert ImageStat.Stat(night.convert("L")).mean[0] < ImageStat.Stat(light.convert("L")).mean[0] - 30
    for moment in MOMENTS:
        assert default[f"{moment}-ru"] != default[f"{moment}-en"]  # each language drawn, not one copied


@pytest.fixture(scope="module")
def client(dealer_state, database):
    with database.session() as session:
        dealer = tenants.create_dealer(session, "themes", "Themes Ltd")
        tenants.add_user(session, dealer, "tech@themes.test", PASSWORD, "technician", "test")
    client = TestClient(create_app(dealer_state, database), base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": "tech@themes.test", "password": PASSWORD}).status_code == 303
    return client


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/themes").text)
    assert found
    return found.group(1)


def test_a_refused_upload_says_why_keeps_nothing_and_is_audited(client, database) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("../../etc/cron.d/evil", b"* * * * * root true")
    reply = client.post("/themes", data={"csrf": _csrf(client), "slug": "evil"},
                        files={"pack": ("evil.zip", out.getvalue(), "application/zip")})
    assert reply.status_code == 400
    assert "The pack is refused" in reply.text and "folders are not allowed" in reply.text
    with database.session() as session:
        assert session.scalar(select(ThemePackRow).where(ThemePackRow.slug == "evil")) is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "theme.upload")
                                .order_by(AuditEntry.id.desc())).first()
        assert entry.outcome == "refused" and "folders are not allowed" in entry.reason
        assert entry.actor == "tech@themes.test"


def test_a_bad_theme_id_is_refused_before_the_pack_is_read(client) -> None:
    reply = client.post("/themes", data={"csrf": _csrf(client), "slug": "Not An Id"},
                        files={"pack": ("p.zip", pack_folder(THEMES_DIR / "dark"), "application/zip")})
    assert reply.status_code == 400 and "is not a theme id" in reply.text
