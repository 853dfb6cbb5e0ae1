"""The payer's status page in Russian and English (its own words: it is not part of the signed-in portal)."""

from __future__ import annotations

from provisioning.portal.i18n import pick_language

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Статус платежа", "terminal": "Терминал", "operation": "Операция", "provider": "Получатель",
        "account": "Счёт", "cash": "Внесено", "credited": "К зачислению", "when": "Время",
        "support": "Служба поддержки", "other": "English",
        "delivered": "Платёж зачислен получателю.",
        "in_progress": "Платёж принят и передаётся получателю. Обычно это занимает несколько минут.",
        "attention": "Платёж задерживается, им уже занимается служба поддержки. Деньги не потеряны; "
                     "позвоните, назвав номер терминала и операции.",
        "reversal": "По вашему обращению мы попросили получателя отменить этот платёж и ждём его ответа. До ответа "
                    "деньги никуда повторно не отправляются и не теряются; служба поддержки сообщит, когда он придёт.",
        "cancelled": "Операция отменена без внесения денег.",
        "not_reported": "Терминал ещё не передал сведения об этом платеже (возможно, нет связи). Чек настоящий; "
                        "загляните позже или позвоните в службу поддержки.",
        "unknown": "Такого платежа нет. Проверьте, что ссылка открыта с QR-кода чека целиком.",
        "keep": "Сохраните чек до зачисления платежа.",
    },
    "en": {
        "title": "Payment status", "terminal": "Terminal", "operation": "Operation", "provider": "Paid to",
        "account": "Account", "cash": "Cash paid in", "credited": "To be credited", "when": "Time",
        "support": "Support", "other": "Русский",
        "delivered": "The payment has been credited to the recipient.",
        "in_progress": "The payment was accepted and is on its way to the recipient; this usually takes minutes.",
        "attention": "The payment is delayed and support is already on it. The money is not lost; call support "
                     "with the terminal and operation numbers.",
        "reversal": "As you asked, we have asked the recipient to cancel this payment and are waiting for their "
                    "answer. Until it comes the money is not sent anywhere again and is not lost; support will tell "
                    "you when it arrives.",
        "cancelled": "The operation was cancelled before any money was taken.",
        "not_reported": "The terminal has not reported this payment yet (it may be offline). The receipt is "
                        "genuine; look again later or call support.",
        "unknown": "There is no such payment. Check that the whole link from the receipt's QR code was opened.",
        "keep": "Keep the receipt until the payment is credited.",
    },
}


def payer_language(asked: str, accept_language: str | None) -> str:
    """?lang= if it names one we speak, else the phone's preference, else Russian (the receipt's language)."""
    return pick_language(asked, accept_language, tuple(TEXTS), "ru")
