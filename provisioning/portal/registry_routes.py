"""The portal's registry, reconciliation and turnover pages: providers' registry settings, the archive (download,
build again, send again, each delivery's outcome), importing a processing system's registry with the report of
discrepancies, and turnover charts by day, terminal and provider. Scoped by the signed-in dealer."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from provisioning import audit
from provisioning.db.models import utcnow
from provisioning.portal import registry_texts  # noqa: F401  (adds this area's words to the portal's)
from provisioning.portal.auth import Signed
from provisioning.portal.i18n import TEXTS
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, language, render, signed
from provisioning.registries import build as builder
from provisioning.registries import charts, turnover
from provisioning.registries.cli import check_profile
from provisioning.registries.delivery import ATTEMPTS, queue
from provisioning.registries.importer import FormatError, ImportRejected
from provisioning.registries.models import ReconcileRun, RegistryDelivery, RegistryFile, RegistryProfile
from provisioning.registries.reconcile import correction_link, reconcile, story_link

router = APIRouter(include_in_schema=False)
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def page(method: str, path: str, permission: str) -> Any:
    """Register a route of this area with the permission it needs (the authorization test walks them all)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _day(text: str, default: date) -> date:
    try:
        return date.fromisoformat(text) if text.strip() else default
    except ValueError as exc:
        raise PortalError(400, "not_found") from exc


def _registries(request: Request, session: Session, who: Signed, status: int = 200, **extra: Any) -> Response:
    profiles = list(session.scalars(select(RegistryProfile).where(RegistryProfile.dealer_id == who.dealer_id)
                                    .order_by(RegistryProfile.provider)))
    files = list(session.scalars(select(RegistryFile).where(RegistryFile.dealer_id == who.dealer_id)
                                 .order_by(RegistryFile.day.desc(), RegistryFile.id.desc()).limit(100)))
    deliveries: dict[int, list[RegistryDelivery]] = {}
    if files:
        for d in session.scalars(select(RegistryDelivery).where(RegistryDelivery.file_id.in_([f.id for f in files]))
                                 .order_by(RegistryDelivery.id)):
            deliveries.setdefault(d.file_id, []).append(d)
    yesterday = date.today() - timedelta(days=1)
    return render(request, "registry_list.html", who, status=status, profiles=profiles, files=files,
                  deliveries=deliveries, yesterday=yesterday.isoformat(), formats=builder.FORMATS,
                  attempts=ATTEMPTS, failed=_given_up(deliveries),
                  encodings=builder.ENCODINGS, **extra)


def _given_up(deliveries: dict[int, list[RegistryDelivery]]) -> int:
    """How many sendings failed for good and were not sent since ("Send again" makes new rows per channel)."""
    latest = {(d.file_id, d.channel, d.target): d.state for rows in deliveries.values() for d in rows}  # by id
    return sum(state == "failed" for state in latest.values())


@page("GET", "/registries", "registries.view")
def registries(request: Request) -> Response:
    """Providers' registry settings, the build form and the archive with each delivery's outcome."""
    with signed(request, "registries.view") as (session, who):
        return _registries(request, session, who)


@page("POST", "/registries/profiles", "registries.change")
def save_profile(request: Request, provider: Annotated[str, Form(max_length=64)],
                 csrf: Annotated[str, Form()] = "", name: Annotated[str, Form(max_length=200)] = "",
                 timezone: Annotated[str, Form(max_length=64)] = "Europe/Moscow",
                 build_at: Annotated[str, Form(max_length=5)] = "03:00", scheduled: Annotated[str, Form()] = "",
                 formats: Annotated[list[str] | None, Form()] = None,
                 encoding: Annotated[str, Form(max_length=20)] = "utf-8",
                 emails: Annotated[str, Form(max_length=2000)] = "", drop_dir: Annotated[str, Form(max_length=500)] = "",
                 import_format: Annotated[str, Form(max_length=4000)] = "{}") -> Response:
    """Save one provider's registry settings (checked first; audited with before and after)."""
    with signed(request, "registries.change", csrf, post=True) as (session, who):
        provider = provider.strip()
        if not provider:
            return _registries(request, session, who, status=400, error="provider: required")
        profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == who.dealer_id,
                                                               RegistryProfile.provider == provider))
        before = _profile_doc(profile) if profile else None
        fresh = profile or builder.profile_of(session, who.dealer_id, provider)
        values = {"name": name.strip(), "timezone": timezone.strip(), "build_at": build_at.strip(),
                  "scheduled": bool(scheduled), "formats": ",".join(formats or ["csv"]), "encoding": encoding,
                  "emails": emails.strip(), "drop_dir": drop_dir.strip(), "import_format": import_format.strip() or "{}"}
        for key, value in values.items():
            setattr(fresh, key, value)
        try:
            check_profile(fresh, request.app.state.services.settings.registry_drop_root)
        except (builder.RegistryError, FormatError) as exc:
            if profile is not None:
                session.expire(profile)  # the wrong values are not kept
            return _registries(request, session, who, status=400, error=str(exc))
        if profile is None:
            session.add(fresh)
        audit.record(session, actor=who.email, action="registry.settings", dealer_id=who.dealer_id,
                     target=f"provider {provider}", before=before, after=_profile_doc(fresh), remote=_remote(request))
    return RedirectResponse("/registries", 303)


def _profile_doc(profile: RegistryProfile) -> dict[str, Any]:
    return {k: getattr(profile, k) for k in ("name", "timezone", "build_at", "scheduled", "formats", "encoding",
                                             "emails", "drop_dir", "import_format")}


@page("POST", "/registries/build", "registries.build")
def build_now(request: Request, provider: Annotated[str, Form(max_length=64)],
              day: Annotated[str, Form(max_length=10)], csrf: Annotated[str, Form()] = "",
              format: Annotated[str, Form(max_length=8)] = "csv", send: Annotated[str, Form()] = "") -> Response:
    """Build (or build again) a provider's registry for a day; with `send`, queue its deliveries."""
    with signed(request, "registries.build", csrf, post=True) as (session, who):
        try:
            with session.begin_nested():
                file = builder.build(session, who.dealer_id, provider.strip(), _day(day, date.today()), format,
                                     who.email)
                if send:
                    queue(session, file)
        except builder.RegistryError as exc:
            return _registries(request, session, who, status=400, error=str(exc))
        audit.record(session, actor=who.email, action="registry.build", dealer_id=who.dealer_id,
                     target=f"{file.file_name}", after={"payments": file.payments, "amount": file.amount,
                                                        "sha256": file.sha256, "send": bool(send)},
                     remote=_remote(request))
    return RedirectResponse("/registries", 303)


def _own_file(session: Session, who: Signed, file_id: int) -> RegistryFile:
    file = session.get(RegistryFile, file_id)
    if file is None or file.dealer_id != who.dealer_id:
        raise PortalError(404, "not_found")
    return file


@page("GET", "/registries/files/{file_id}", "registries.view")
def download(file_id: int, request: Request) -> Response:
    """A kept registry file, as built."""
    with signed(request, "registries.view") as (session, who):
        file = _own_file(session, who, file_id)
        media = ("text/csv; charset=" + _charset(file.content) if file.format == "csv" else
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(file.content, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{file.file_name}"'})


def _charset(content: bytes) -> str:
    """The encoding a kept CSV was built in (the provider's setting may have changed since): Cyrillic text in
    Windows-1251 is never valid UTF-8."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "windows-1251"
    return "utf-8"


@page("POST", "/registries/files/{file_id}/send", "registries.change")
def send_again(file_id: int, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """Queue the file's deliveries again (after a failure, or to a changed address)."""
    with signed(request, "registries.change", csrf, post=True) as (session, who):
        file = _own_file(session, who, file_id)
        rows = queue(session, file)
        audit.record(session, actor=who.email, action="registry.send", dealer_id=who.dealer_id,
                     target=file.file_name, after=[r.channel for r in rows], remote=_remote(request))
    return RedirectResponse("/registries", 303)


def _runs(session: Session, who: Signed) -> list[ReconcileRun]:
    return list(session.scalars(select(ReconcileRun).where(ReconcileRun.dealer_id == who.dealer_id)
                                .order_by(ReconcileRun.id.desc()).limit(50)))


@page("GET", "/reconcile", "reconcile.view")
def reconcile_form(request: Request) -> Response:
    """The import form and the latest reconciliations."""
    with signed(request, "reconcile.view") as (session, who):
        return render(request, "reconcile_list.html", who, runs=_runs(session, who),
                      day=(date.today() - timedelta(days=1)).isoformat())


@page("POST", "/reconcile", "reconcile.import")
async def reconcile_upload(request: Request, registry: Annotated[UploadFile, File()],
                           provider: Annotated[str, Form(max_length=64)], day: Annotated[str, Form(max_length=10)],
                           csrf: Annotated[str, Form()] = "") -> Response:
    """Import their registry and match it: the report page, or the form with every malformed line listed."""
    data = await registry.read(MAX_IMPORT_BYTES + 1)
    name = registry.filename or "registry.csv"
    return await run_in_threadpool(_reconcile, request, data, name, provider.strip(), day, csrf)


def _reconcile(request: Request, data: bytes, name: str, provider: str, day: str, csrf: str) -> Response:
    with signed(request, "reconcile.import", csrf, post=True) as (session, who):
        form = {"provider": provider, "day": day, "file": name}
        if len(data) > MAX_IMPORT_BYTES:
            errors = [f"the file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB"]
        else:
            try:
                with session.begin_nested():  # nothing of a refused file is kept
                    run = reconcile(session, who.dealer_id, provider, _day(day, date.today()), data, name,
                                    who.email)
                audit.record(session, actor=who.email, action="reconcile.import", dealer_id=who.dealer_id,
                             target=f"{provider} {run.day.isoformat()} {name}"[:200],
                             after={"rows": run.rows, "matched": run.matched, "discrepancies": run.discrepancies},
                             remote=_remote(request))
                return RedirectResponse(f"/reconcile/{run.id}", 303)
            except ImportRejected as exc:
                errors = [str(e) for e in exc.errors]
            except (FormatError, builder.RegistryError) as exc:
                errors = [str(exc)]
        return render(request, "reconcile_list.html", who, status=400, runs=_runs(session, who), errors=errors,
                      form=form, day=day)


@page("GET", "/reconcile/{run_id}", "reconcile.view")
def reconcile_report(run_id: int, request: Request) -> Response:
    """One reconciliation's report: totals, then each discrepancy with links to the story and a correction."""
    with signed(request, "reconcile.view") as (session, who):
        run = session.get(ReconcileRun, run_id)
        if run is None or run.dealer_id != who.dealer_id:
            raise PortalError(404, "not_found")
        return render(request, "reconcile_report.html", who, run=run, report=json.loads(run.report),
                      story_link=story_link, correction_link=correction_link)


@page("GET", "/turnover", "turnover.view")
def turnover_page(request: Request, since: str = "", until: str = "", terminal: str = "",
                  provider: str = "") -> Response:
    """Turnover charts by day, terminal and provider (server-side SVG) with the totals table."""
    today = utcnow().date()
    end = _day(until, today)
    start = _day(since, end - timedelta(days=29))
    if start > end or (end - start).days > 366:
        raise PortalError(400, "not_found")
    with signed(request, "turnover.view") as (session, who):
        found = turnover.lines(session, who.dealer_id, start, end, terminal.strip(), provider.strip())
        t = TEXTS[language(request)]
        per_day = turnover.by(found, "day")
        days = [d.isoformat() for d in turnover.every_day(start, end)]
        day_values = [per_day[d].credited if d in per_day else 0 for d in days]
        per_terminal, per_provider = turnover.by(found, "terminal"), turnover.by(found, "provider")
        figures = [("day", t["turnover_by_day"], charts.bars([d[8:10] + "." + d[5:7] for d in days], day_values,
                                                              label=t["turnover_by_day"], keys=days)),
                   ("terminal", t["turnover_by_terminal"],
                    charts.bars(list(per_terminal), [v.credited for v in per_terminal.values()],
                                label=t["turnover_by_terminal"], color="#1f5fa8")),
                   ("provider", t["turnover_by_provider"],
                    charts.bars(list(per_provider), [v.credited for v in per_provider.values()],
                                label=t["turnover_by_provider"], color="#8a4b08"))]
        return render(request, "turnover.html", who, figures=figures, lines=found, total=turnover.total(found),
                      per_day=per_day, per_terminal=per_terminal, per_provider=per_provider,
                      form={"since": start.isoformat(), "until": end.isoformat(), "terminal": terminal,
                            "provider": provider})
