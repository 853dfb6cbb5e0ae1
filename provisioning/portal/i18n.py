"""The portal's words in English and Russian (a missing Russian word fails a test, not a page)."""

from __future__ import annotations

LANGUAGES = ("en", "ru")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Dealer portal", "skip": "Skip to content", "sign_in": "Sign in", "sign_out": "Sign out",
        "email": "E-mail", "password": "Password", "terminals": "Terminals", "users": "Users and roles",
        "audit": "Audit log", "codes": "Enrollment codes", "number": "Number", "address": "Address",
        "group": "Group", "timezone": "Time zone", "state": "State", "version": "Version", "online": "online",
        "offline": "offline", "last_seen": "Last heartbeat", "never": "never", "add_terminal": "Add a terminal",
        "add": "Add", "status": "Identity", "status_new": "not enrolled", "status_enrolled": "enrolled",
        "status_revoked": "revoked", "code_once": "The one-time enrollment code (shown only now)",
        "code_expires": "Expires", "ca_fingerprint": "CA fingerprint", "enroll_on_terminal": "On the terminal, run",
        "new_code": "New enrollment code", "revoke": "Revoke", "revoke_reason": "Reason for revoking",
        "certificates": "Certificates", "serial": "Serial", "valid_until": "Valid until", "revoked_at": "Revoked",
        "role": "Role", "roles": "Roles", "add_user": "Add a user", "name": "Name", "when": "When", "who": "Who",
        "what": "What", "target": "Target", "before_after": "Before → after", "outcome": "Outcome",
        "reason": "Reason", "created": "Created", "used": "Used", "code_state": "State", "created_by": "Created by",
        "dealer": "Dealer", "switch": "Switch", "forbidden": "Your role does not allow this.",
        "not_found": "Not found.", "bad_login": "Wrong e-mail or password.",
        "locked": "Too many failed attempts: this account is locked until", "language": "Language",
        "role_admin": "admin", "role_support": "support", "role_technician": "technician",
        "signed_in_as": "Signed in as", "no_terminals": "No terminals yet.", "back": "Back to terminals",
        "csrf": "The form expired; please try again.", "error": "Error", "change_role": "Change role",
        "save": "Save", "terminal": "Terminal",
    },
    "ru": {
        "title": "Портал дилера", "skip": "К содержимому", "sign_in": "Войти", "sign_out": "Выйти",
        "email": "Эл. почта", "password": "Пароль", "terminals": "Терминалы", "users": "Пользователи и роли",
        "audit": "Журнал действий", "codes": "Коды подключения", "number": "Номер", "address": "Адрес",
        "group": "Группа", "timezone": "Часовой пояс", "state": "Состояние", "version": "Версия",
        "online": "на связи", "offline": "не на связи", "last_seen": "Последний сигнал", "never": "никогда",
        "add_terminal": "Добавить терминал", "add": "Добавить", "status": "Удостоверение",
        "status_new": "не подключён", "status_enrolled": "подключён", "status_revoked": "отозван",
        "code_once": "Одноразовый код подключения (показан только сейчас)", "code_expires": "Действует до",
        "ca_fingerprint": "Отпечаток УЦ", "enroll_on_terminal": "На терминале выполните",
        "new_code": "Новый код подключения", "revoke": "Отозвать", "revoke_reason": "Причина отзыва",
        "certificates": "Сертификаты", "serial": "Серийный номер", "valid_until": "Действует до",
        "revoked_at": "Отозван", "role": "Роль", "roles": "Роли", "add_user": "Добавить пользователя",
        "name": "Имя", "when": "Когда", "who": "Кто", "what": "Что", "target": "Объект",
        "before_after": "Было → стало", "outcome": "Итог", "reason": "Причина", "created": "Создан",
        "used": "Использован", "code_state": "Состояние", "created_by": "Создал", "dealer": "Дилер",
        "switch": "Перейти", "forbidden": "Ваша роль не позволяет это сделать.", "not_found": "Не найдено.",
        "bad_login": "Неверная почта или пароль.",
        "locked": "Слишком много неудачных попыток: учётная запись заблокирована до", "language": "Язык",
        "role_admin": "администратор", "role_support": "поддержка", "role_technician": "техник",
        "signed_in_as": "Вы вошли как", "no_terminals": "Терминалов пока нет.", "back": "К списку терминалов",
        "csrf": "Форма устарела, попробуйте ещё раз.", "error": "Ошибка", "change_role": "Сменить роль",
        "save": "Сохранить", "terminal": "Терминал",
    },
}


def pick_language(cookie: str | None, accept_language: str | None, languages: tuple[str, ...] = LANGUAGES,
                  fallback: str = "en") -> str:
    """The language from the cookie, else the browser's first supported preference, else the fallback."""
    if cookie in languages:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in languages:
            return code
    return fallback


def translator(lang: str) -> dict[str, str]:
    """The words of one language."""
    return TEXTS.get(lang, TEXTS["en"])


# The updates page (provisioning/portal/updates_routes.py).
TEXTS["en"].update({
    "updates": "Updates", "updates_fleet": "Versions on the terminals", "updates_running": "Runs",
    "updates_target": "Updating to", "updates_step": "Step", "updates_detail": "Detail",
    "updates_bad": "Refused versions", "updates_pilot": "pilot", "updates_pilot_group": "Pilot group",
    "updates_releases": "Releases", "updates_channel": "Channel", "updates_size": "Size, bytes",
    "step_checked": "up to date", "step_downloading": "downloading", "step_downloaded": "downloaded",
    "step_installed": "installed, waiting for a pause between payments", "step_switched": "switched, restarting",
    "step_healthy": "running, healthy", "step_rolled_back": "rolled back", "step_failed": "failed",
})
TEXTS["ru"].update({
    "updates": "Обновления", "updates_fleet": "Версии на терминалах", "updates_running": "Работает",
    "updates_target": "Обновляется до", "updates_step": "Шаг", "updates_detail": "Подробности",
    "updates_bad": "Отвергнутые версии", "updates_pilot": "пилот", "updates_pilot_group": "Пилотная группа",
    "updates_releases": "Выпуски", "updates_channel": "Канал", "updates_size": "Размер, байт",
    "step_checked": "обновлений нет", "step_downloading": "загружается", "step_downloaded": "загружено",
    "step_installed": "установлено, ждёт паузы между платежами", "step_switched": "переключено, перезапуск",
    "step_healthy": "работает исправно", "step_rolled_back": "откат", "step_failed": "ошибка",
})


# The themes pages (provisioning/portal/theme_routes.py).
TEXTS["en"].update({
    "themes": "Themes", "themes_upload": "Upload a theme pack", "themes_slug": "Theme id", "themes_file": "Pack (zip)",
    "themes_rules": "A zip of manifest.toml, PNG/JPEG pictures and TTF/OTF fonts, all at its top; up to 8 MB. "
                    "It is checked by the terminal's own code before anything else.",
    "themes_packs": "Theme packs", "themes_none": "No theme packs yet.", "themes_refused": "The pack is refused",
    "themes_on_terminals": "Themes on the terminals", "themes_assigned": "Assigned", "themes_applied": "On screen",
    "themes_shown_since": "shown since", "themes_waiting": "waiting for the terminal (it switches between payments)",
    "themes_back": "Back to themes", "themes_preview": "Preview",
    "themes_preview_note": "Drawn by the terminal's own screens at 1280×1024: attract, confirmation, cash and done, "
                           "in Russian and English.",
    "themes_assign": "Assign to a terminal",
})
TEXTS["ru"].update({
    "themes": "Темы", "themes_upload": "Загрузить пакет темы", "themes_slug": "Идентификатор темы",
    "themes_file": "Пакет (zip)",
    "themes_rules": "Zip с manifest.toml, картинками PNG/JPEG и шрифтами TTF/OTF, все в корне; до 8 МБ. "
                    "Пакет проверяется кодом самого терминала.",
    "themes_packs": "Пакеты тем", "themes_none": "Пакетов тем пока нет.", "themes_refused": "Пакет отклонён",
    "themes_on_terminals": "Темы на терминалах", "themes_assigned": "Назначена", "themes_applied": "На экране",
    "themes_shown_since": "показывается с", "themes_waiting": "ждёт терминала (он переключится между платежами)",
    "themes_back": "К списку тем", "themes_preview": "Предпросмотр",
    "themes_preview_note": "Нарисовано экранами самого терминала при 1280×1024: заставка, подтверждение, приём "
                           "наличных и готово, на русском и английском.",
    "themes_assign": "Назначить терминалу",
})
