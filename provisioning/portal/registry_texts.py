"""The registry, reconciliation and turnover pages' words in English and Russian, added to the portal's."""

from __future__ import annotations

from provisioning.portal.i18n import TEXTS

REGISTRY_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "registries": "Registries", "registry_settings": "Providers' registry settings",
        "registry_provider": "Provider id", "registry_name": "Name on the registry", "registry_zone": "Time zone",
        "registry_at": "Build at (local time)", "registry_scheduled": "Build every day",
        "registry_formats": "Formats", "registry_encoding": "CSV encoding", "registry_emails": "E-mail to",
        "registry_drop": "Drop folder (absolute path)", "registry_import": "Their registry's format (JSON)",
        "registry_save": "Save settings", "registry_build": "Build a registry", "registry_day": "Day (local date)",
        "registry_format": "Format", "registry_send": "Send it as configured", "registry_build_now": "Build",
        "registry_archive": "Archive", "registry_file": "File", "registry_payments": "Payments",
        "registry_amount": "Credited", "registry_fee": "Fees", "registry_built": "Built",
        "registry_deliveries": "Deliveries", "registry_send_again": "Send again",
        "registry_retrying": "attempt %d of %d failed, next at %s UTC", "registry_given_up": "after %d attempts",
        "registry_failed_banner": "Registry deliveries failed (after every retry): %d. Check the reason beside each "
                                  "and press \"Send again\".",
        "registry_amendment": "amendment", "registry_none": "Nothing built yet.",
        "registry_new_provider": "Another provider", "registry_no_profiles": "No provider has settings yet.",
        "reconcile": "Reconciliation", "reconcile_import": "Import a processing system's registry",
        "reconcile_file": "Their registry (CSV)", "reconcile_run": "Import and match",
        "reconcile_refused": "The file was refused; nothing was imported:", "reconcile_runs": "Latest reconciliations",
        "reconcile_rows": "Their lines", "reconcile_matched": "Matched", "reconcile_discrepancies": "Discrepancies",
        "reconcile_report": "Reconciliation report", "reconcile_ours": "Ours", "reconcile_theirs": "Theirs",
        "reconcile_mismatches": "Amounts that differ", "reconcile_not_booked": "Booked there, not delivered here",
        "reconcile_missing_ours": "Only in their registry (missing on our side)",
        "reconcile_missing_theirs": "Only in ours (missing on their side)",
        "reconcile_other_day": "Matched with a payment of another day", "reconcile_line": "Their line",
        "reconcile_story": "Story", "reconcile_correct": "Open as correction", "reconcile_clean": "No discrepancies.",
        "reconcile_duplicate": "their second line for this payment", "reconcile_none": "No reconciliation yet.",
        "turnover": "Turnover", "turnover_by_day": "Credited per day, ₽",
        "turnover_by_terminal": "Credited per terminal, ₽", "turnover_by_provider": "Credited per provider, ₽",
        "turnover_show": "Show", "turnover_totals": "Totals", "turnover_all": "All", "turnover_day": "Day",
        "turnover_none": "No delivered payments in these days.",
    },
    "ru": {
        "registries": "Реестры", "registry_settings": "Настройки реестров поставщиков",
        "registry_provider": "Код поставщика", "registry_name": "Название в реестре", "registry_zone": "Часовой пояс",
        "registry_at": "Собирать в (местное время)", "registry_scheduled": "Собирать каждый день",
        "registry_formats": "Форматы", "registry_encoding": "Кодировка CSV", "registry_emails": "Отправлять на e-mail",
        "registry_drop": "Папка для выгрузки (абсолютный путь)",
        "registry_import": "Формат их реестра (JSON)", "registry_save": "Сохранить настройки",
        "registry_build": "Собрать реестр", "registry_day": "День (местная дата)", "registry_format": "Формат",
        "registry_send": "Отправить по настройкам", "registry_build_now": "Собрать", "registry_archive": "Архив",
        "registry_file": "Файл", "registry_payments": "Платежей", "registry_amount": "Зачислено",
        "registry_fee": "Комиссия", "registry_built": "Собран", "registry_deliveries": "Отправки",
        "registry_send_again": "Отправить снова",
        "registry_retrying": "попытка %d из %d не удалась, следующая в %s UTC", "registry_given_up": "после %d попыток",
        "registry_failed_banner": "Не доставлено реестров (после всех повторов): %d. Причина указана у каждого; "
                                  "нажмите «Отправить снова».",
        "registry_amendment": "исправление", "registry_none": "Реестров ещё нет.",
        "registry_new_provider": "Другой поставщик", "registry_no_profiles": "Настроек реестров ещё нет.",
        "reconcile": "Сверка", "reconcile_import": "Загрузить реестр процессинга",
        "reconcile_file": "Их реестр (CSV)", "reconcile_run": "Загрузить и сверить",
        "reconcile_refused": "Файл отклонён, ничего не загружено:", "reconcile_runs": "Последние сверки",
        "reconcile_rows": "Их строк", "reconcile_matched": "Совпало", "reconcile_discrepancies": "Расхождений",
        "reconcile_report": "Акт сверки", "reconcile_ours": "У нас", "reconcile_theirs": "У них",
        "reconcile_mismatches": "Суммы расходятся", "reconcile_not_booked": "Проведён у них, не доставлен у нас",
        "reconcile_missing_ours": "Только в их реестре (нет у нас)",
        "reconcile_missing_theirs": "Только у нас (нет в их реестре)",
        "reconcile_other_day": "Сопоставлен с платежом другого дня", "reconcile_line": "Их строка",
        "reconcile_story": "История", "reconcile_correct": "Открыть корректировку",
        "reconcile_clean": "Расхождений нет.", "reconcile_duplicate": "их вторая строка этого платежа",
        "reconcile_none": "Сверок ещё не было.",
        "turnover": "Оборот", "turnover_by_day": "Зачислено по дням, ₽",
        "turnover_by_terminal": "Зачислено по терминалам, ₽", "turnover_by_provider": "Зачислено по поставщикам, ₽",
        "turnover_show": "Показать", "turnover_totals": "Итоги", "turnover_all": "Всего", "turnover_day": "День",
        "turnover_none": "За эти дни проведённых платежей нет.",
    },
}

for _lang, _words in REGISTRY_TEXTS.items():
    assert not set(_words) & set(TEXTS[_lang]), "a registry word hides a portal word"
    TEXTS[_lang].update(_words)
