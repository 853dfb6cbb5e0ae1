"""A dealer's configuration document: the sections of a terminal configuration a dealer sets, and the whole catalog.

The dealer service stores and pushes these documents; the terminal lays one over its own configuration file
(devices, gateway addresses and the journal stay the terminal's) and validates the result with the very loaders
it starts with (`kiosk.config.parse_config`, `kiosk.catalog.parse_catalog`). The service validates with the same
function, so there is one schema, and an error names the document's key (`catalog.providers[0].fee.percent`).
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.catalog import Catalog, parse_catalog
from kiosk.config import DEMO_CONFIG, DEMO_DIR, Config, parse_config
from kiosk.errors import ConfigError
from kiosk.schema import Doc, load_toml

DOCUMENT_VERSION = 1
DOCUMENT = "configuration document"
#: sections of terminal.toml a dealer sets; devices, gateways' addresses, journal and paths stay the terminal's
TERMINAL_SECTIONS = ("limits", "offline", "screen", "service", "session", "receipts",
                     "fiscal")  # fiscal: the dealer's 54-FZ payment-agent data (kiosk/fiscal/settings.py)
#: the screen's size, density and full-screen mode belong to the hardware, not to the dealer
SCREEN_KEYS = {"theme", "language"}
#: the receipts' folder is the terminal's; the payer's status page and the support desk's phone are the dealer's
RECEIPT_KEYS = {"status_url", "support_phone"}
DOCUMENT_KEYS = {"version", "catalog", *TERMINAL_SECTIONS}


def parse_text(text: str) -> dict[str, Any]:
    """A document's TOML text as data (a syntax error is a ConfigError naming the line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(DOCUMENT, "", f"not valid TOML: {exc}") from exc


def overlay(base: Mapping[str, Any], document: Mapping[str, Any],
            secrets: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The terminal's configuration data with the document's sections (and gateways' secrets) laid over it."""
    root = Doc(DOCUMENT, dict(document))
    root.unknown_keys(DOCUMENT_KEYS)
    version = root.integer("version")
    if version != DOCUMENT_VERSION:
        raise root.error("version", f"expected {DOCUMENT_VERSION}, got {version}")
    root.table("screen", {}).unknown_keys(SCREEN_KEYS)
    root.table("receipts", {}).unknown_keys(RECEIPT_KEYS)
    merged = copy.deepcopy(dict(base))
    for section in TERMINAL_SECTIONS:
        if section in document:
            ours = root.table(section).data
            merged[section] = {**merged.get(section, {}), **copy.deepcopy(ours)}
    gateways = merged.get("gateways", [])
    for name, values in (secrets or {}).items():
        found = [g for g in gateways if isinstance(g, dict) and g.get("name") == name]
        if not found:
            raise ConfigError(DOCUMENT, f"secrets.{name}", "a secret for a gateway this terminal does not have")
        found[0].update(values)
    return merged


def validate(document: Mapping[str, Any], base: Mapping[str, Any], base_path: Path,
             secrets: Mapping[str, Mapping[str, str]] | None = None,
             check_routes: bool = True) -> tuple[Config, Catalog]:
    """The configuration and catalog a terminal would run with; ConfigError names the document's key."""
    # check_routes=False: the service, which does not know a terminal's gateways; the terminal always checks
    config = parse_config(overlay(base, document, secrets), base_path)
    catalog = _catalog(document, config.currency, set(config.gateways) if check_routes else None)
    if config.fiscal is not None:  # fiscal receipts carry each supplier's phone (tag 1171): check them now
        from kiosk.receipt_fiscal import check_catalog

        check_catalog(catalog, DOCUMENT, "catalog.")
    return config, catalog


def apply_to(base: Config, document: Mapping[str, Any],
             secrets: Mapping[str, Mapping[str, str]] | None = None) -> tuple[Config, Catalog]:
    """A running terminal's configuration and catalog with a document applied (ConfigError names the key)."""
    # Validated over the terminal's own file, then only the dealer-set values (and each gateway's secrets) are
    # taken into `base`: what the terminal set up beyond its file (the demo's emulator addresses) stays.
    effective = parse_config(overlay(load_toml(base.file, "terminal configuration"), document), base.file)
    receipts = document.get("receipts") or {}
    gateways = dict(base.gateways)
    for name, values in (secrets or {}).items():
        if name not in gateways:
            raise ConfigError(DOCUMENT, f"secrets.{name}", "a secret for a gateway this terminal does not have")
        part = gateways[name]
        gateways[name] = dataclasses.replace(part, options={**part.options, **values})
    config = dataclasses.replace(
        base, min_operation=effective.min_operation, max_operation=effective.max_operation,
        offline_max_operation=effective.offline_max_operation, offline_max_total=effective.offline_max_total,
        screen=dataclasses.replace(base.screen, theme=effective.screen.theme, language=effective.screen.language),
        service_pin_sha256=effective.service_pin_sha256, timeouts=effective.timeouts,
        receipt_required=effective.receipt_required, gateways=gateways,
        # what the document leaves out stays as the terminal runs it (the demo's own status page)
        status_url=effective.status_url if "status_url" in receipts else base.status_url,
        support_phone=effective.support_phone if "support_phone" in receipts else base.support_phone,
        fiscal=effective.fiscal if "fiscal" in document else base.fiscal)
    return config, _catalog(document, config.currency, set(gateways))


def _catalog(document: Mapping[str, Any], currency: str, gateways: set[str] | None) -> Catalog:
    if "catalog" not in document:
        raise ConfigError(DOCUMENT, "catalog", "required table is missing")
    try:
        return parse_catalog(document["catalog"], DOCUMENT, currency, gateways)
    except ConfigError as exc:
        raise ConfigError(DOCUMENT, f"catalog.{exc.key}" if exc.key else "catalog", exc.problem) from None


def reference_base() -> tuple[dict[str, Any], Path]:
    """The demo terminal's file: a complete configuration to lay documents over where no terminal's is at hand."""
    return load_toml(DEMO_CONFIG, "terminal configuration"), DEMO_CONFIG


def check(document: Mapping[str, Any]) -> None:
    """Validate a document as the service can (routes are checked on the terminal); ConfigError names the key."""
    base, path = reference_base()
    validate(document, base, path, check_routes=False)


def starter() -> dict[str, Any]:
    """A first document for a dealer: the demo terminal's dealer-set sections and the demo catalog."""
    base, _ = reference_base()
    document: dict[str, Any] = {"version": DOCUMENT_VERSION}
    for section in TERMINAL_SECTIONS:
        if section in base:
            document[section] = base[section]
    document["screen"] = {k: v for k, v in document.get("screen", {}).items() if k in SCREEN_KEYS}
    receipts = {k: v for k, v in document.pop("receipts", {}).items() if k in RECEIPT_KEYS}
    if receipts:
        document["receipts"] = receipts
    document["catalog"] = load_toml(DEMO_DIR / "catalog.toml", "catalog")
    return document
