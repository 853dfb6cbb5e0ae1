"""The portal's words for terminal groups, in English and Russian (added to the portal's texts)."""

from __future__ import annotations

from provisioning.portal.i18n import TEXTS

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "groups": "Groups", "group_name": "Group", "group_terminals": "Terminals", "group_config": "Configuration",
        "group_new": "New group", "group_create": "Create", "group_rename": "Rename", "group_delete": "Delete",
        "group_none": "No groups yet.", "group_empty": "none", "group_move": "Move terminals",
        "group_move_to": "Into group", "group_no_group": "(no group)", "group_move_button": "Move",
        "group_assign_config": "Assign configuration", "group_assign_theme": "Theme for its terminals",
        "group_assign": "Assign", "group_delete_note": "Only an empty group can be deleted: move its terminals first.",
        "group_new_name": "New name",
    },
    "ru": {
        "groups": "Группы", "group_name": "Группа", "group_terminals": "Терминалы", "group_config": "Настройка",
        "group_new": "Новая группа", "group_create": "Создать", "group_rename": "Переименовать",
        "group_delete": "Удалить", "group_none": "Групп пока нет.", "group_empty": "нет",
        "group_move": "Перенести терминалы", "group_move_to": "В группу", "group_no_group": "(без группы)",
        "group_move_button": "Перенести", "group_assign_config": "Назначить настройку",
        "group_assign_theme": "Тема для её терминалов", "group_assign": "Назначить",
        "group_delete_note": "Удалить можно только пустую группу: сначала перенесите её терминалы.",
        "group_new_name": "Новое имя",
    },
}


def install() -> None:
    """Add these words to the portal's texts (once; the same keys in both languages)."""
    for lang, words in WORDS.items():
        assert not set(words) & set(TEXTS[lang]) or set(words) <= set(TEXTS[lang]), "a group word hides a portal word"
        TEXTS[lang].update(words)
