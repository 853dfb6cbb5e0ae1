"""The charge registry pages' words in English and Russian, added to the portal's (kept here: one file per area)."""

from __future__ import annotations

from provisioning.portal.i18n import TEXTS

CHARGES_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "charges": "Charges", "charges_title": "Charge registries of utility providers",
        "charges_upload": "Upload a registry", "charges_provider": "Provider code", "charges_file": "File (CSV or XLSX)",
        "charges_split": "Split of a partial payment", "charges_split_proportional": "in proportion to the debts",
        "charges_split_in_order": "service by service, in the registry's order",
        "charges_rules": "One line per account and service; the columns are described in docs/charge-registry.md. "
                         "A registry is accepted whole or refused whole.",
        "charges_uploads": "Uploads", "charges_period": "Period", "charges_status": "Status",
        "charges_accepted": "accepted", "charges_refused": "refused", "charges_accounts": "Accounts",
        "charges_debt": "Debt", "charges_none": "No registry has been uploaded.", "charges_file_name": "File",
        "charges_find_account": "Find an account", "charges_account": "Account", "charges_find": "Show",
        "charges_errors": "Why it was refused (nothing of it was loaded)", "charges_line": "Line",
        "charges_column": "Column", "charges_problem": "What is wrong", "charges_registry": "Registry",
        "charges_payer": "Payer", "charges_address": "Address", "charges_service": "Service",
        "charges_charge": "Charged", "charges_meters": "Meters", "charges_meter": "Meter", "charges_unit": "Unit",
        "charges_previous": "Previous reading", "charges_previous_date": "Taken on", "charges_current": "current",
        "charges_earlier": "earlier", "charges_history": "Every registry that stated this account",
        "charges_payments": "Payments booked here", "charges_amount": "Amount", "charges_operation": "Operation",
        "charges_readings": "Readings", "charges_not_in_any": "No registry of this provider has this account.",
        "charges_refused_upload": "Refused", "charges_keys": "Debt lookup keys",
        "charges_keys_about": "Terminals reach the debt lookup as a JSON processing gateway at "
                              "https://<this portal>/api/processing, signing with one of these keys.",
        "charges_key_shown_once": "The secret is shown once: put it into the terminal's gateway now.",
        "charges_key_add": "Add a key", "charges_key_terminal": "Only for terminal (number, optional)",
        "charges_key_revoked": "revoked", "charges_key_revoke": "Revoke",
    },
    "ru": {
        "charges": "Начисления", "charges_title": "Реестры начислений поставщиков услуг ЖКХ",
        "charges_upload": "Загрузить реестр", "charges_provider": "Код поставщика", "charges_file": "Файл (CSV или XLSX)",
        "charges_split": "Разнесение частичной оплаты", "charges_split_proportional": "пропорционально долгам",
        "charges_split_in_order": "по услугам, в порядке реестра",
        "charges_rules": "Одна строка на лицевой счёт и услугу; колонки описаны в docs/charge-registry.md. "
                         "Реестр принимается целиком или отклоняется целиком.",
        "charges_uploads": "Загрузки", "charges_period": "Период", "charges_status": "Состояние",
        "charges_accepted": "принят", "charges_refused": "отклонён", "charges_accounts": "Лицевых счетов",
        "charges_debt": "Задолженность", "charges_none": "Реестры ещё не загружались.", "charges_file_name": "Файл",
        "charges_find_account": "Найти лицевой счёт", "charges_account": "Лицевой счёт", "charges_find": "Показать",
        "charges_errors": "Почему отклонён (ничего из него не загружено)", "charges_line": "Строка",
        "charges_column": "Колонка", "charges_problem": "Что не так", "charges_registry": "Реестр",
        "charges_payer": "Плательщик", "charges_address": "Адрес", "charges_service": "Услуга",
        "charges_charge": "Начислено", "charges_meters": "Счётчики", "charges_meter": "Счётчик",
        "charges_unit": "Ед.", "charges_previous": "Предыдущее показание", "charges_previous_date": "Дата",
        "charges_current": "текущий", "charges_earlier": "прежний",
        "charges_history": "Все реестры, где есть этот счёт", "charges_payments": "Платежи, проведённые здесь",
        "charges_amount": "Сумма", "charges_operation": "Операция", "charges_readings": "Показания",
        "charges_not_in_any": "Ни в одном реестре этого поставщика нет такого счёта.",
        "charges_refused_upload": "Отклонено", "charges_keys": "Ключи запроса задолженности",
        "charges_keys_about": "Терминалы обращаются к запросу задолженности как к JSON-процессингу по адресу "
                              "https://<этот портал>/api/processing и подписывают запросы одним из этих ключей.",
        "charges_key_shown_once": "Секрет показан один раз: сразу внесите его в шлюз терминала.",
        "charges_key_add": "Добавить ключ", "charges_key_terminal": "Только для терминала (номер, необязательно)",
        "charges_key_revoked": "отозван", "charges_key_revoke": "Отозвать",
    },
}

for _lang, _words in CHARGES_TEXTS.items():
    TEXTS[_lang].update(_words)
