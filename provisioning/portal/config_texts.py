"""The portal's words for pushed configuration, in English and Russian (added to the portal's texts)."""

from __future__ import annotations

from provisioning.portal.i18n import TEXTS

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "configs": "Configuration", "config_new": "New configuration", "config_name": "Name",
        "config_versions": "Versions", "config_latest": "Latest version", "config_author": "Author",
        "config_comment": "Comment", "config_quick": "Quick edit (from version {n})", "config_text": "Edit as text",
        "config_text_label": "The whole document (TOML)", "config_save": "Save as a new version",
        "config_limits": "Limits", "config_offline": "Offline limits", "config_screen": "Screen",
        "config_fees": "Fees", "config_provider": "Provider", "config_fee_kind": "Fee", "config_amount": "Amount",
        "config_percent": "Percent", "config_min": "Minimum", "config_max": "Maximum",
        "config_service_pin": "New service PIN (leave empty to keep)", "config_diff": "Differences",
        "config_diff_prev": "changes", "config_key": "Key", "config_before": "Before", "config_after": "After",
        "config_assign": "Assign", "config_assign_to": "Assign to", "config_version": "Version",
        "config_assigned": "Assigned", "config_assignments": "Assignments", "config_none": "No configuration yet.",
        "config_via_group": "through its group", "config_own": "its own", "config_applied": "Applied by the terminal",
        "config_last_report": "Last report", "config_reported_version": "Version in the latest heartbeat",
        "config_secrets": "Gateway secrets", "config_gateway": "Gateway", "config_secret_name": "Option",
        "config_secret_value": "Secret (write-only: never shown again)", "config_secret_set": "set on {at} by {who}",
        "config_set_secret": "Set the secret", "config_delete_secret": "Delete", "config_no_secrets": "No secrets set.", "config_terminal": "Configuration",
        "config_nothing": "nothing", "config_refused": "refused", "config_fix": "Fix the marked fields.",
        "limits.min_operation": "Smallest payment", "limits.max_operation": "Largest payment",
        "offline.max_operation": "Largest offline payment", "offline.max_total": "Total waiting offline",
        "screen.theme": "Theme", "screen.language": "Language of the first screen",
        "config_kind_none": "none", "config_kind_fixed": "fixed", "config_kind_percent": "percent",
        "config_kind_tiered": "tiered (edit as text)", "config_compare": "Compare", "config_group": "group",
        "config_signing_key": "Configuration signing key", "config_rotate_key": "Rotate the key",
        "config_key_generation": "Generation {n}, since {at}. Terminals take a new key with their next bundle and "
                                 "then refuse what the old one signs.",
        "config_key_none": "No key yet (made with the first bundle).", "config_key_rotated": "The key was rotated.",
    },
    "ru": {
        "configs": "Настройки", "config_new": "Новая настройка", "config_name": "Название",
        "config_versions": "Версии", "config_latest": "Последняя версия", "config_author": "Автор",
        "config_comment": "Комментарий", "config_quick": "Быстрая правка (от версии {n})",
        "config_text": "Правка текстом", "config_text_label": "Весь документ (TOML)",
        "config_save": "Сохранить новой версией", "config_limits": "Лимиты", "config_offline": "Лимиты без связи",
        "config_screen": "Экран", "config_fees": "Комиссии", "config_provider": "Получатель",
        "config_fee_kind": "Комиссия", "config_amount": "Сумма", "config_percent": "Процент",
        "config_min": "Минимум", "config_max": "Максимум",
        "config_service_pin": "Новый сервисный PIN (пусто — не менять)", "config_diff": "Различия",
        "config_diff_prev": "изменения", "config_key": "Ключ", "config_before": "Было", "config_after": "Стало",
        "config_assign": "Назначить", "config_assign_to": "Кому", "config_version": "Версия",
        "config_assigned": "Назначено", "config_assignments": "Назначения", "config_none": "Настроек пока нет.",
        "config_via_group": "через группу", "config_own": "своя", "config_applied": "Применено терминалом",
        "config_last_report": "Последний отчёт", "config_reported_version": "Версия в последнем сигнале",
        "config_secrets": "Секреты шлюзов", "config_gateway": "Шлюз", "config_secret_name": "Параметр",
        "config_secret_value": "Секрет (только запись: больше не показывается)",
        "config_secret_set": "задан {at}, {who}", "config_set_secret": "Задать секрет", "config_delete_secret": "Удалить",
        "config_no_secrets": "Секреты не заданы.", "config_terminal": "Настройка", "config_nothing": "ничего",
        "config_refused": "отклонено", "config_fix": "Исправьте отмеченные поля.",
        "limits.min_operation": "Наименьший платёж", "limits.max_operation": "Наибольший платёж",
        "offline.max_operation": "Наибольший платёж без связи", "offline.max_total": "Всего ждёт без связи",
        "screen.theme": "Тема", "screen.language": "Язык первого экрана",
        "config_kind_none": "нет", "config_kind_fixed": "фиксированная", "config_kind_percent": "процент",
        "config_kind_tiered": "по ступеням (правка текстом)", "config_compare": "Сравнить", "config_group": "группа",
        "config_signing_key": "Ключ подписи настроек", "config_rotate_key": "Заменить ключ",
        "config_key_generation": "Поколение {n}, с {at}. Терминалы переходят на новый ключ со следующей настройкой "
                                 "и после этого отклоняют подписанное старым.",
        "config_key_none": "Ключ ещё не создан (создаётся с первой настройкой).",
        "config_key_rotated": "Ключ заменён.",
    },
}


def install() -> None:
    """Add these words to the portal's texts (once; the same keys in both languages)."""
    for lang, words in WORDS.items():
        assert not set(words) & set(TEXTS[lang]) or set(words) <= set(TEXTS[lang]), "a config word hides a portal word"
        TEXTS[lang].update(words)
