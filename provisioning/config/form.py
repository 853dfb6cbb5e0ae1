"""The portal's quick-edit form of a configuration document: which fields it shows, their values, and a posted
form laid back onto the document (every key is the document's own, so a validation error lands on its field)."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from typing import Any

#: settings a dealer changes often, by document key
SETTINGS = ("limits.min_operation", "limits.max_operation", "offline.max_operation", "offline.max_total",
            "screen.theme", "screen.language")
FEE_KINDS = ("none", "fixed", "percent", "tiered")
FEE_PARTS = {"none": (), "fixed": ("amount",), "percent": ("percent", "min", "max"), "tiered": ()}
PIN_KEY = "service.pin"
PIN = re.compile(r"\d{4,12}")


class FormErrors(Exception):
    """Problems with posted fields, by document key, found before the document is validated."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def providers(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The catalog's providers (an empty list for a document without them)."""
    found = document.get("catalog", {}).get("providers", [])
    return found if isinstance(found, list) else []


def values(document: Mapping[str, Any]) -> dict[str, str]:
    """Each quick-edit field's value in a document, as the form shows it."""
    shown = {}
    for key in SETTINGS:
        section, name = key.split(".")
        table = document.get(section, {})
        shown[key] = _text(table.get(name)) if isinstance(table, dict) else ""
    for index, provider in enumerate(providers(document)):
        fee = provider.get("fee", {"kind": "none"}) if isinstance(provider, dict) else {}
        for part in ("kind", "amount", "percent", "min", "max"):
            shown[f"catalog.providers[{index}].fee.{part}"] = _text(fee.get(part)) if isinstance(fee, dict) else ""
    return shown


def apply(document: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The document with the posted fields laid over it; FormErrors for a field that cannot be read at all."""
    # Fields not posted stay as they are; the terminal's loaders judge everything else (validated()).
    result = copy.deepcopy(dict(document))
    errors: dict[str, str] = {}
    for key in SETTINGS:
        if key not in form:
            continue
        section, name = key.split(".")
        value = form[key].strip()
        table = result.setdefault(section, {})
        if value:
            table[name] = value
        else:
            table.pop(name, None)
    pin = form.get(PIN_KEY, "").strip()
    if pin:
        if PIN.fullmatch(pin):
            # only its SHA-256 is kept, as on the terminal: the PIN itself is never stored
            result.setdefault("service", {})["pin_sha256"] = hashlib.sha256(pin.encode()).hexdigest()
        else:
            errors[PIN_KEY] = "expected 4 to 12 digits"
    for index, provider in enumerate(providers(result)):
        prefix = f"catalog.providers[{index}].fee."
        kind = form.get(prefix + "kind")
        if kind is None:
            continue
        old = provider.get("fee", {"kind": "none"})
        if kind not in FEE_KINDS:
            errors[prefix + "kind"] = f"expected one of {FEE_KINDS}"
            continue
        if kind == "tiered":
            if old.get("kind") != "tiered":
                errors[prefix + "kind"] = "tiers are edited in the document's text"
            continue  # tiers are kept as they are
        fee: dict[str, Any] = {"kind": kind}
        for part in FEE_PARTS[kind]:
            value = form.get(prefix + part, "").strip()
            if value:
                fee[part] = value
        if kind == "percent" and old.get("kind") == "percent" and "rounding" in old:
            fee["rounding"] = old["rounding"]
        provider["fee"] = fee
    if errors:
        raise FormErrors(errors)
    return result


def field_for(error_key: str, fields: list[str]) -> str:
    """The form field an error belongs next to: the field of that key, else the first inside it, else ''."""
    if error_key in fields:
        return error_key
    return next((f for f in fields if f.startswith(error_key + ".")), "")
