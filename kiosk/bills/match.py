"""Which catalog provider a scanned bill pays, and the payer's account there.

A bill selects the provider whose utility rule lists its payee INN (and whose account patterns, if any, take
the payer's account). A bill no provider lists goes to the "payment by bank details" provider when the dealer's
catalog has one; otherwise it is refused in plain words, as the parser's refusals are.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.bills.gost_qr import PaymentCode, parse
from kiosk.bills.refusals import Refusal
from kiosk.catalog import Catalog, Provider

#: the payee's details a "payment by bank details" sends as fields (the bill's own names)
BANK_FIELDS = ("Name", "PayeeINN", "KPP", "BIC", "CorrespAcc", "PersonalAcc", "BankName", "Purpose", "UIN")

NO_PROVIDER = ("Этот получатель не обслуживается терминалом. Оплатите квитанцию в другом месте.",
               "This terminal does not serve this payee. Please pay the bill elsewhere.")
NO_ACCOUNT = ("В коде квитанции нет лицевого счёта плательщика. Введите его вручную.",
              "The bill's code has no payer account. Please enter it by hand.")


@dataclass(frozen=True, slots=True)
class BillMatch:
    """A scanned bill and where it goes: the provider, the account there and any extra fields to send."""

    code: PaymentCode
    provider: Provider
    account: str
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NotServed:
    """A valid bill this terminal cannot take (no provider, or no account): words for the payer."""

    words: tuple[str, str]
    detail: str = ""

    def text(self, language: str = "ru") -> str:
        """Plain words in 'ru' or 'en'."""
        return self.words[1] if language == "en" else self.words[0]


ScanResult = BillMatch | Refusal | NotServed


def _account(code: PaymentCode, provider: Provider) -> str:
    rule = provider.utility
    source = rule.account_from if rule is not None else "PersAcc"
    return (code.personal_acc if source == "PersonalAcc" else code.payer_account or "").strip()


def match_bill(catalog: Catalog, code: PaymentCode) -> BillMatch | NotServed:
    """The provider and account a valid bill pays."""
    utility = [p for p in catalog.providers.values() if p.utility is not None]
    inn = code.payee_inn or ""
    listed = [p for p in utility if p.utility is not None and inn in p.utility.payee_inns]
    for provider in listed:
        account = _account(code, provider)
        if account and provider.utility is not None and provider.utility.takes_account(account):
            return BillMatch(code, provider, account)
    if listed:
        return NotServed(NO_ACCOUNT, f"payee INN {inn}: no payer account the provider takes")
    for provider in utility:
        if provider.utility is not None and provider.utility.bank_details:
            account = _account(code, provider)
            if not account:
                return NotServed(NO_ACCOUNT, "payment by bank details: the bill has no payer account")
            values = {"Name": code.name, "BIC": code.bic, "CorrespAcc": code.corresp_acc,
                      "PersonalAcc": code.personal_acc, "BankName": code.bank_name, **dict(code.optional)}
            fields = tuple((name, values[name]) for name in BANK_FIELDS if values.get(name))
            return BillMatch(code, provider, account, fields)
    return NotServed(NO_PROVIDER, f"no provider for payee INN {inn or '(none)'}")


def read_bill(catalog: Catalog, data: bytes | str) -> ScanResult:
    """A scanner's bytes → the bill matched to a provider, or why not (the parser's refusal, or not served)."""
    code = parse(data)
    if isinstance(code, Refusal):
        return code
    return match_bill(catalog, code)
