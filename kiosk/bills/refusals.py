"""Why a payment code was refused: a reason code plus plain words for the payer in Russian and English."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Every way a GOST R 56042 code can be refused."""

    NOT_A_PAYMENT_CODE = "not_a_payment_code"
    UNKNOWN_ENCODING = "unknown_encoding"
    BAD_ENCODING = "bad_encoding"
    BAD_SEPARATOR = "bad_separator"
    MALFORMED_FIELD = "malformed_field"
    DUPLICATE_FIELD = "duplicate_field"
    MISSING_FIELD = "missing_field"
    BAD_VALUE = "bad_value"
    TOO_LONG = "too_long"
    BAD_ACCOUNT_KEY = "bad_account_key"
    BAD_CORRESPONDENT_KEY = "bad_correspondent_key"
    BAD_INN = "bad_inn"
    BAD_SUM = "bad_sum"


# The payer reads these on the screen: what is wrong and what to do, no jargon beyond the field's own name.
TEXTS: dict[Reason, tuple[str, str]] = {
    Reason.NOT_A_PAYMENT_CODE: ("Это не платёжный код квитанции. Отсканируйте QR-код с квитанции.",
                                "This is not a bill's payment code. Please scan the QR code on your bill."),
    Reason.UNKNOWN_ENCODING: ("Код квитанции в неизвестной кодировке. Оплатите по реквизитам вручную.",
                              "The bill's code uses an unknown text encoding. Please enter the details by hand."),
    Reason.BAD_ENCODING: ("Текст в коде квитанции повреждён. Оплатите по реквизитам вручную.",
                          "The text in the bill's code is damaged. Please enter the details by hand."),
    Reason.BAD_SEPARATOR: ("Код квитанции составлен с ошибкой (разделитель полей). Обратитесь к получателю.",
                           "The bill's code is malformed (field separator). Please contact the payee."),
    Reason.MALFORMED_FIELD: ("В коде квитанции есть испорченное поле «{field}».",
                             "The bill's code has a damaged field \u201c{field}\u201d."),
    Reason.DUPLICATE_FIELD: ("Поле «{field}» встречается в коде квитанции дважды.",
                             "The field \u201c{field}\u201d appears twice in the bill's code."),
    Reason.MISSING_FIELD: ("В коде квитанции нет обязательного поля «{field}».",
                           "The bill's code lacks the required field \u201c{field}\u201d."),
    Reason.BAD_VALUE: ("Поле «{field}» в коде квитанции заполнено неверно.",
                       "The field \u201c{field}\u201d in the bill's code is not filled in correctly."),
    Reason.TOO_LONG: ("Поле «{field}» в коде квитанции слишком длинное.",
                      "The field \u201c{field}\u201d in the bill's code is too long."),
    Reason.BAD_ACCOUNT_KEY: ("Счёт получателя не сходится с БИК банка: код квитанции с ошибкой.",
                             "The payee's account does not match the bank's BIC: the bill's code has an error."),
    Reason.BAD_CORRESPONDENT_KEY: ("Корреспондентский счёт не сходится с БИК банка: код квитанции с ошибкой.",
                                   "The correspondent account does not match the bank's BIC: the code has an error."),
    Reason.BAD_INN: ("ИНН в поле «{field}» неверен (не сходится контрольное число).",
                     "The INN in \u201c{field}\u201d is wrong (its check digits do not match)."),
    Reason.BAD_SUM: ("Сумма в коде квитанции записана неверно.",
                     "The amount in the bill's code is not written correctly."),
}


@dataclass(frozen=True)
class Refusal:
    """A refused code: the reason, the field concerned (if any) and a detail for logs and support."""

    reason: Reason
    field: str = ""
    detail: str = ""

    def text(self, language: str = "ru") -> str:
        """Plain words for the payer in 'ru' or 'en' (Russian for any other language)."""
        ru, en = TEXTS[self.reason]
        return (en if language == "en" else ru).format(field=self.field)

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"{self.reason}{where}: {self.detail}" if self.detail else f"{self.reason}{where}"
