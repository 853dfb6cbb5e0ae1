"""The corrections pages' words in English and Russian, added to the portal's (kept here: one file per area)."""

from __future__ import annotations

from provisioning.portal.i18n import TEXTS

CORRECTIONS_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "corrections": "Corrections", "correction": "Correction", "correction_new": "Correct a payment",
        "correction_waiting": "Waiting for a second person's approval", "correction_none": "No corrections yet.",
        "correction_kind": "Correction", "correction_note": "Note (why)", "correction_request": "Request",
        "correction_approve": "Approve", "correction_reject": "Reject", "correction_steps": "Steps",
        "correction_result": "What the terminal reported", "correction_gateway": "Gateway to pay through instead",
        "correction_account": "The right account", "correction_how": "How the cash was returned",
        "correction_returned_by": "Returned by", "correction_returned_at": "Returned at (with zone, e.g. "
        "2026-11-30T12:00+03:00; empty: now)", "correction_payment": "Payment",
        "correction_needs_approval": "needs a second person's approval",
        "correction_offered": "Corrections for this payment", "correction_story": "Open the payment's story",
        "correction_not_uploaded": "This payment has not been uploaded yet: type its terminal and operation.",
        "correction_own": "You requested this correction: a second person must approve it.",
        "correction_not_pending": "This correction is not waiting for approval.",
        "correction_refused": "The correction was refused.", "correction_wrong_state":
        "This correction is not possible in the payment's state.",
        "correction_open": "Another correction of this payment is not finished yet.",
        "correction_who": "Who", "correction_detail": "Detail",
        "corr_reprocess": "Re-process at the same gateway", "corr_reroute": "Re-route to another gateway",
        "corr_account": "Change the account", "corr_refund": "Cancel and refund",
        "corr_requested": "waiting for approval", "corr_rejected": "rejected", "corr_sent": "sent to the terminal",
        "corr_done": "done", "corr_failed": "failed", "how_cash": "cash at the office", "how_transfer": "bank transfer",
        "how_other": "other", "kind_correction": "Correction",
    },
    "ru": {
        "corrections": "Исправления", "correction": "Исправление", "correction_new": "Исправить платёж",
        "correction_waiting": "Ждут подтверждения второго сотрудника", "correction_none": "Исправлений пока нет.",
        "correction_kind": "Исправление", "correction_note": "Примечание (почему)", "correction_request": "Запросить",
        "correction_approve": "Подтвердить", "correction_reject": "Отклонить", "correction_steps": "Шаги",
        "correction_result": "Что сообщил терминал", "correction_gateway": "Шлюз, через который провести",
        "correction_account": "Правильный счёт", "correction_how": "Как вернули деньги",
        "correction_returned_by": "Кто вернул", "correction_returned_at": "Когда вернули (с поясом, напр. "
        "2026-11-30T12:00+03:00; пусто — сейчас)", "correction_payment": "Платёж",
        "correction_needs_approval": "нужно подтверждение второго сотрудника",
        "correction_offered": "Исправления для этого платежа", "correction_story": "История платежа",
        "correction_not_uploaded": "Этот платёж ещё не выгружен: укажите терминал и операцию.",
        "correction_own": "Вы запросили это исправление: подтвердить должен другой сотрудник.",
        "correction_not_pending": "Это исправление не ждёт подтверждения.",
        "correction_refused": "Исправление отклонено.", "correction_wrong_state":
        "Это исправление невозможно в текущем состоянии платежа.",
        "correction_open": "Другое исправление этого платежа ещё не завершено.",
        "correction_who": "Кто", "correction_detail": "Подробности",
        "corr_reprocess": "Провести повторно через тот же шлюз", "corr_reroute": "Провести через другой шлюз",
        "corr_account": "Изменить счёт", "corr_refund": "Отменить и вернуть деньги",
        "corr_requested": "ждёт подтверждения", "corr_rejected": "отклонено", "corr_sent": "отправлено на терминал",
        "corr_done": "выполнено", "corr_failed": "не выполнено", "how_cash": "наличными в офисе",
        "how_transfer": "банковским переводом", "how_other": "иначе", "kind_correction": "Исправление",
    },
}
for _lang, _words in CORRECTIONS_TEXTS.items():
    TEXTS[_lang].update(_words)
