"""Sample receipts of every kind, with fixed data: for the demo, golden tests and the benchmark."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from kiosk.money import Money
from kiosk.receipt import (
    AgentInfo,
    EncashmentReceiptData,
    PaymentReceiptData,
    ProviderInfo,
    Receipt,
    TestPageData,
    build_encashment,
    build_payment,
    build_test_page,
)

MSK = ZoneInfo("Europe/Moscow")
WHEN = datetime(2026, 11, 21, 14, 5, 9, tzinfo=MSK)
AGENT = AgentInfo("ООО «Платёжный Агент»", "7701234567", "+7 (495) 123-45-67")
PROVIDER = ProviderInfo({"ru": "МТС (мобильная связь)", "en": "MTS (mobile)"}, "7740000076", "8 800 250-08-90")
ADDRESS = "г. Москва, ул. Тверская, д. 1, ТЦ «Охотный ряд»"
SUPPORT = "8 800 555-35-35"
KINDS = ("payment", "not_completed", "restored", "encashment", "test")


def payment_data(status: str = "delivered", lang: str = "ru", restored: bool = False) -> PaymentReceiptData:
    """A 1 500,00 ₽ top-up of +7 912 345-67-89 with a 45,00 ₽ fee."""
    return PaymentReceiptData(
        terminal="10001", operation=42, when=WHEN, timezone="Europe/Moscow", terminal_address=ADDRESS,
        agent=AGENT, provider=PROVIDER, account="9123456789", account_masking="phone",
        account_label={"ru": "Номер телефона", "en": "Phone number"},
        cash=Money(150000), fee=Money(4500), credited=Money(145500), status=status,  # type: ignore[arg-type]
        support_phone=SUPPORT, lang=lang, restored=restored,
        external_id="OSMP-778899" if status == "delivered" else "",
        reason={"ru": "абонент не найден", "en": "subscriber not found"}[lang] if status == "not_completed" else "",
    )


def encashment_data(lang: str = "ru") -> EncashmentReceiptData:
    """Encashment No. 7 with a mix of banknotes."""
    counts = {Money.major(50): 3, Money.major(100): 12, Money.major(500): 4, Money.major(1000): 9,
              Money.major(5000): 1}
    return EncashmentReceiptData(
        terminal="10001", number=7, when=WHEN, timezone="Europe/Moscow", terminal_address=ADDRESS, agent=AGENT,
        counts=counts, since=datetime(2026, 11, 14, 9, 30, 0, tzinfo=MSK), operations=57,
        support_phone=SUPPORT, lang=lang, collector="Иванов И. И." if lang == "ru" else "I. Ivanov",
    )


def sample(kind: str, lang: str = "ru") -> Receipt:
    """A built receipt of one kind: payment, not_completed, restored, encashment or test."""
    if kind == "payment":
        return build_payment(payment_data(lang=lang))
    if kind == "not_completed":
        return build_payment(payment_data("not_completed", lang))
    if kind == "restored":
        return build_payment(payment_data("queued", lang, restored=True))
    if kind == "encashment":
        return build_encashment(encashment_data(lang))
    if kind == "test":
        return build_test_page(TestPageData("10001", WHEN, "Europe/Moscow", ADDRESS, lang))
    raise ValueError(f"unknown receipt kind {kind!r}; known: {', '.join(KINDS)}")
