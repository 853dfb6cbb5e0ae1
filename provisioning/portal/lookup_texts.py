"""The lookup pages' words in English and Russian, added to the portal's (kept here: one file per area)."""

from __future__ import annotations

from provisioning.portal.i18n import TEXTS

LOOKUP_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "lookup": "Payments", "lookup_title": "Find a payment",
        "lookup_q": "Terminal/operation, receipt QR text or a processing system's id",
        "lookup_find": "Find", "lookup_none": "Nothing uploaded matches.", "lookup_account": "Account or phone",
        "lookup_from": "From (local date)", "lookup_to": "To (local date)", "lookup_amount": "Amount, ₽",
        "lookup_provider": "Provider", "lookup_gateway": "Gateway", "lookup_search": "Search",
        "lookup_results": "Payments found", "lookup_operation": "Operation", "lookup_created": "Opened (local)",
        "lookup_cash": "Cash", "lookup_story": "The payment's story", "lookup_booked": "Booked",
        "lookup_not_uploaded": "This operation has not been uploaded by the terminal yet.",
        "lookup_ids": "Ids at the processing systems", "lookup_versions": "Versions received",
        "lookup_received": "Received", "lookup_outcome": "Last outcome", "lookup_receipt": "Receipt",
        "lookup_attention": "Needs attention", "lookup_age": "Age", "lookup_attention_none": "Nothing needs attention.",
        "lookup_encashments": "Encashments", "lookup_closed": "Closed", "lookup_total": "Total",
        "lookup_bills": "Bills", "lookup_difference": "Difference (cassette − journal)",
        "lookup_no_difference": "none", "lookup_owed": "Uncertain bills and owed cash", "lookup_fee": "Fee",
        "lookup_credited": "Credited",
        "lookup_reversal": "Reversal", "lookup_reversal_state": "reversal pending (the provider has not answered "
                                                                "the cancellation yet)",
    },
    "ru": {
        "lookup": "Платежи", "lookup_title": "Найти платёж",
        "lookup_q": "Терминал/операция, текст QR-кода чека или номер в процессинге",
        "lookup_find": "Найти", "lookup_none": "Ничего не найдено среди выгруженного.",
        "lookup_account": "Счёт или телефон", "lookup_from": "С (местная дата)", "lookup_to": "По (местная дата)",
        "lookup_amount": "Сумма, ₽", "lookup_provider": "Поставщик", "lookup_gateway": "Шлюз",
        "lookup_search": "Искать", "lookup_results": "Найденные платежи", "lookup_operation": "Операция",
        "lookup_created": "Открыта (местное время)", "lookup_cash": "Внесено", "lookup_story": "История платежа",
        "lookup_booked": "Проведён", "lookup_not_uploaded": "Терминал ещё не выгрузил эту операцию.",
        "lookup_ids": "Номера в процессинге", "lookup_versions": "Полученные версии", "lookup_received": "Получено",
        "lookup_outcome": "Последний ответ", "lookup_receipt": "Чек", "lookup_attention": "Требуют внимания",
        "lookup_age": "Сколько ждёт", "lookup_attention_none": "Нет операций, требующих внимания.",
        "lookup_encashments": "Инкассации", "lookup_closed": "Закрыта", "lookup_total": "Сумма",
        "lookup_bills": "Купюр", "lookup_difference": "Расхождение (кассета − журнал)",
        "lookup_no_difference": "нет", "lookup_owed": "Неясные купюры и долг плательщику", "lookup_fee": "Комиссия",
        "lookup_credited": "Зачислено",
        "lookup_reversal": "Отмена", "lookup_reversal_state": "ждёт ответа на отмену (поставщик ещё не ответил "
                                                              "на запрос отмены)",
    },
}

for _lang, _words in LOOKUP_TEXTS.items():
    TEXTS[_lang].update(_words)
