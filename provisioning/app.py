"""The ASGI app factory: the terminal API (FastAPI, OpenAPI at /api/openapi.json) and the server-rendered portal."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from provisioning import api
from provisioning.charges import processing as charges_processing
from provisioning.commands import api as commands_api
from provisioning.config import api_routes as config_api
from provisioning.context import Services
from provisioning.db import Database
from provisioning.identity.ca import CAFiles
from provisioning.journal import routes as journal_routes
from provisioning.portal import (
    charges_routes,
    commands_routes,
    config_routes,
    corrections_routes,
    fiscal_routes,
    group_routes,
    lookup_routes,
    monitor_routes,
    registry_routes,
    routes,
    status_routes,
    theme_routes,
    updates_routes,
)
from provisioning.settings import Settings
from provisioning.themes import api as themes_api
from provisioning.updates import api as updates_api

# What a terminal may reach on the mutually authenticated link listener; the portal listener serves the rest.
LINK_PATHS = (api.TERMINAL_PREFIX, "/api/v1/crl", "/api/v1/ca")


def create_app(settings: Settings, db: Database | None = None, link_url: str = "") -> FastAPI:
    """The dealer service as one ASGI app (the CA is loaded once; all other state is in the database)."""
    db = db or Database(settings.db_url)
    ca = CAFiles(settings.ca_dir).load()
    app = FastAPI(title="kiosk dealer service", version="1", openapi_url="/api/openapi.json", docs_url="/api/docs",
                  redoc_url=None)
    app.state.services = Services(settings, db, ca, link_url)
    app.include_router(api.router)
    app.include_router(updates_api.router)
    app.include_router(routes.router)
    app.include_router(updates_routes.router)
    commands_api.install(app, db.url)
    app.include_router(commands_routes.router)
    app.include_router(fiscal_routes.router)
    app.include_router(monitor_routes.router)
    app.include_router(config_api.router)
    app.include_router(config_routes.router)
    app.include_router(group_routes.router)
    app.include_router(journal_routes.router)
    app.include_router(lookup_routes.router)
    app.include_router(corrections_routes.router)
    app.include_router(themes_api.router)
    app.include_router(theme_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(status_routes.router)
    app.include_router(charges_processing.router)
    app.include_router(charges_routes.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "portal" / "static")), name="static")

    @app.exception_handler(routes.PortalError)
    async def _portal_error(request: Request, exc: routes.PortalError) -> Response:
        return routes.error_page(request, exc)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        if request.method == "POST" and not _same_origin(request):
            # A form posted from another site (login CSRF included): browsers always send Origin on POST.
            return JSONResponse({"detail": "cross-site form submission refused"}, status_code=403)
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        if not request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or request.url.path.startswith("/api/"):
        return True  # terminals and command-line clients send no Origin; the API is authenticated otherwise
    return urlsplit(origin).netloc == request.headers.get("host", "")


class PathGate:
    """Lets only some paths through to the app (the link listener serves terminals, the portal listener people)."""

    def __init__(self, app: ASGIApp, allow: tuple[str, ...] = (), deny: tuple[str, ...] = ()) -> None:
        self.app, self.allow, self.deny = app, allow, deny

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if (self.allow and not path.startswith(self.allow)) or (self.deny and path.startswith(self.deny)):
                where = "the terminal link" if self.allow else "the portal address"
                response = JSONResponse({"detail": f"{path} is not served on {where}"}, status_code=404)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
