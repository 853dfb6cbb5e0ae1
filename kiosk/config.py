"""Terminal configuration: a versioned TOML document, validated on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.fiscal.settings import FiscalSettings, parse_fiscal
from kiosk.money import Money
from kiosk.schema import Doc, load_toml

CONFIG_VERSION = 1
DEMO_DIR = Path(__file__).parent / "data" / "demo"
DEMO_CONFIG = DEMO_DIR / "terminal.toml"

#: seconds a person may take in each waiting state before the terminal acts on their behalf
DEFAULT_TIMEOUTS = {
    "category": 60,
    "provider": 60,
    "account_entry": 90,
    "online_check": 40,
    "confirmation": 60,
    "cash_collection": 120,
    "delivery": 30,
    "receipt": 20,
    "service": 300,
}


@dataclass(frozen=True, slots=True)
class Agent:
    """The payment agent: who takes the payer's money, printed on every receipt."""

    name: str
    inn: str
    address: str
    phone: str


@dataclass(frozen=True, slots=True)
class Part:
    """A pluggable part chosen by name (validator driver, printer link, gateway adapter) and its options."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a terminal needs to know about itself."""

    file: Path
    terminal: str
    address: str
    support_phone: str
    timezone: ZoneInfo
    currency: str
    languages: tuple[str, ...]
    agent: Agent
    min_operation: Money
    max_operation: Money
    offline_max_operation: Money
    offline_max_total: Money
    validator: Part
    printer: Part
    gateways: dict[str, Part]
    catalog_path: Path
    journal_path: Path
    receipts_dir: Path
    timeouts: dict[str, int]
    outbox_concurrency: int
    outbox_backoff_base: float
    outbox_backoff_max: float
    outbox_lifetime: int
    receipt_required: bool
    denominations: tuple[int, ...]
    screen: Screen
    service_pin_sha256: str
    # the dealer's public status page ('https://pay.example.ru/s'): receipts' QR codes link there; '' = none
    status_url: str = ""
    fiscal: FiscalSettings | None = None  # the dealer's 54-FZ data; required with a fiscal registrar


@dataclass(frozen=True, slots=True)
class Screen:
    """The display: theme, default language, physical density (for 15 mm touch targets), window size."""

    theme: str = "default"
    language: str = "ru"
    dpi: int = 96
    width: int = 1280
    height: int = 1024
    fullscreen: bool = False
    themes_dir: Path | None = None


def _part(doc: Doc, name: str, kind_key: str) -> Part:
    options = dict(doc.data)
    kind = doc.string(kind_key, pattern=r"[a-z][a-z0-9_-]*", what="an adapter name like 'ccnet'")
    options.pop(kind_key)
    return Part(name=name, kind=kind, options=options)


def _path(base: Path, doc: Doc, key: str, default: str) -> Path:
    raw = Path(doc.string(key, default)).expanduser()
    return raw if raw.is_absolute() else (base / raw)


def load_config(path: str | Path) -> Config:
    """Load and validate a terminal configuration; relative paths are relative to the file."""
    path = Path(path)
    return parse_config(load_toml(path, "terminal configuration"), path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate a terminal configuration already read (errors and relative paths refer to `path`)."""
    root = Doc(path, data)
    root.unknown_keys({"version", "terminal", "agent", "limits", "offline", "devices", "gateways", "catalog",
                       "journal", "session", "outbox", "receipts", "screen", "service",
                       "fiscal"})
    version = root.integer("version")
    if version != CONFIG_VERSION:
        raise root.error("version", f"expected {CONFIG_VERSION} (this kiosk understands version {CONFIG_VERSION}), "
                                    f"got {version}")
    base = path.parent

    term = root.table("terminal")
    term.unknown_keys({"number", "address", "support_phone", "timezone", "currency", "languages", "denominations"})
    number = term.string("number", pattern=r"[1-9][0-9]{0,9}", what="1 to 10 digits, not starting with 0")
    tz_name = term.string("timezone")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise term.error("timezone", f"expected an IANA time zone like 'Europe/Moscow', got {tz_name!r}") from None
    currency = term.string("currency", "RUB", pattern=r"[A-Z]{3}", what="an ISO 4217 code like 'RUB'")
    languages = tuple(term.strings("languages", ["ru", "en"]))
    denominations = _denominations(term, currency)

    agent = root.table("agent")
    agent.unknown_keys({"name", "inn", "address", "phone"})
    agent_value = Agent(
        name=agent.string("name"),
        inn=agent.string("inn", pattern=r"\d{10}|\d{12}", what="an INN of 10 or 12 digits"),
        address=agent.string("address"),
        phone=agent.string("phone"),
    )

    limits = root.table("limits")
    limits.unknown_keys({"min_operation", "max_operation"})
    min_op = limits.money("min_operation", currency, allow_zero=False)
    max_op = limits.money("max_operation", currency, allow_zero=False)
    if max_op < min_op:
        raise limits.error("max_operation", f"must not be below min_operation ({min_op.decimal_text()})")

    offline = root.table("offline", {})
    offline.unknown_keys({"max_operation", "max_total"})
    off_op = offline.money("max_operation", currency, "0")
    off_total = offline.money("max_total", currency, "0")

    devices = root.table("devices")
    devices.unknown_keys({"validator", "printer"})
    validator = _part(devices.table("validator"), "validator", "driver")
    printer = _part(devices.table("printer", {"link": "none"}), "printer", "link")

    gateways: dict[str, Part] = {}
    for gw in root.tables("gateways"):
        name = gw.string("name", pattern=r"[a-z][a-z0-9_-]*", what="a lower-case name like 'osmp-main'")
        if name in gateways:
            raise gw.error("name", f"gateway {name!r} is defined twice")
        part = _part(gw, name, "protocol")
        part.options.pop("name", None)
        gateways[name] = part
    if not gateways:
        raise root.error("gateways", "at least one gateway is required")

    session = root.table("session", {})
    timeouts = dict(DEFAULT_TIMEOUTS)
    timeout_doc = session.table("timeouts", {})
    timeout_doc.unknown_keys(set(DEFAULT_TIMEOUTS))
    for state in DEFAULT_TIMEOUTS:
        if timeout_doc.has(state):
            timeouts[state] = timeout_doc.integer(state, minimum=1, maximum=3600)
    session.unknown_keys({"timeouts", "receipt_required"})

    outbox = root.table("outbox", {})
    outbox.unknown_keys({"concurrency", "backoff_base_seconds", "backoff_max_seconds", "lifetime_hours"})

    receipts = root.table("receipts", {})
    receipts.unknown_keys({"directory", "status_url", "support_phone"})
    status_url = receipts.string("status_url", "", pattern=r"(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?)?",
                                 what="the status page's address like 'https://pay.example.ru/s' (no query)")
    screen_doc = root.table("screen", {})
    screen_doc.unknown_keys({"theme", "language", "dpi", "width", "height", "fullscreen", "themes_dir"})
    screen = Screen(
        theme=screen_doc.string("theme", "default", pattern=r"[a-z0-9][a-z0-9_-]*", what="a theme folder name"),
        language=screen_doc.string("language", languages[0], pattern="|".join(languages),
                                what=f"one of the terminal's languages {languages}"),
        dpi=screen_doc.integer("dpi", 96, minimum=50, maximum=600),
        width=screen_doc.integer("width", 1280, minimum=320, maximum=7680),
        height=screen_doc.integer("height", 1024, minimum=240, maximum=4320),
        fullscreen=screen_doc.boolean("fullscreen", False),
        themes_dir=_path(base, screen_doc, "themes_dir", "") if screen_doc.has("themes_dir") else None,
    )
    service = root.table("service", {})
    service.unknown_keys({"pin_sha256"})
    return Config(
        file=path,
        terminal=number,
        address=term.string("address"),
        # the dealer's support desk (pushed with the configuration) wins over the terminal's own line
        support_phone=receipts.string("support_phone", term.string("support_phone")),
        timezone=timezone,
        currency=currency,
        languages=languages,
        agent=agent_value,
        min_operation=min_op,
        max_operation=max_op,
        offline_max_operation=off_op,
        offline_max_total=off_total,
        validator=validator,
        printer=printer,
        gateways=gateways,
        catalog_path=_path(base, root.table("catalog"), "path", "catalog.toml"),
        journal_path=_path(base, root.table("journal", {}), "path", "var/journal.sqlite"),
        receipts_dir=_path(base, receipts, "directory", "var/receipts"),
        status_url=status_url.rstrip("/"),
        timeouts=timeouts,
        outbox_concurrency=outbox.integer("concurrency", 4, minimum=1, maximum=64),
        outbox_backoff_base=float(outbox.integer("backoff_base_seconds", 5, minimum=1, maximum=3600)),
        outbox_backoff_max=float(outbox.integer("backoff_max_seconds", 900, minimum=1, maximum=86400)),
        outbox_lifetime=outbox.integer("lifetime_hours", 24, minimum=1, maximum=24 * 30) * 3600,
        receipt_required=session.boolean("receipt_required", False),
        denominations=denominations,
        screen=screen,
        # The PIN itself never sits in the file (configs get copied and logged): only its SHA-256.
        service_pin_sha256=service.string("pin_sha256", "", pattern=r"|[0-9a-f]{64}", what="64 hex digits"),
        fiscal=parse_fiscal(root, printer.kind),
    )


def _denominations(term: Doc, currency: str) -> tuple[int, ...]:
    """Bill values the terminal accepts, in kopecks (default: the Russian series)."""
    if not term.has("denominations"):
        return tuple(Money.major(v).minor for v in (10, 50, 100, 200, 500, 1000, 2000, 5000))
    values = term.data["denominations"]
    if not isinstance(values, list) or not values:
        raise term.error("denominations", "expected a non-empty array of amounts")
    doc = Doc(term.file, {str(i): v for i, v in enumerate(values)}, term.key("denominations"))
    return tuple(sorted(doc.money(str(i), currency, allow_zero=False).minor for i in range(len(values))))
