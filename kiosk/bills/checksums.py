"""Control keys of Russian bank details: the Bank of Russia account key over BIC + account, and INN keys."""

from __future__ import annotations

from collections.abc import Callable

# The Bank of Russia's weights for the account key (a 23-digit number: 3 digits from the BIC, 20 of the account).
ACCOUNT_WEIGHTS = ((7, 1, 3) * 8)[:23]
# An account's sixth character may be a letter in clearing-currency accounts; the key counts it as a digit.
ACCOUNT_LETTERS = {letter: str(digit) for digit, letter in enumerate("ABCEHKMPTX")}
INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN11_WEIGHTS = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
# BICs of Bank of Russia divisions end in these; their client accounts are keyed like correspondent accounts.
BANK_OF_RUSSIA_ENDINGS = ("000", "001", "002")


def _account_digits(account: str) -> str:
    return account[:5] + ACCOUNT_LETTERS.get(account[5], account[5]) + account[6:]


def _weighted_ok(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, ACCOUNT_WEIGHTS, strict=True)) % 10 == 0


def settlement_account_ok(bic: str, account: str) -> bool:
    """True if the 20-character account's key matches the bank's 9-digit BIC (a payee's own account)."""
    prefix = "0" + bic[4:6] if bic[-3:] in BANK_OF_RUSSIA_ENDINGS else bic[-3:]
    return _weighted_ok(prefix + _account_digits(account))


def correspondent_account_ok(bic: str, account: str) -> bool:
    """True if the bank's correspondent account key matches its BIC (keyed with "0" + BIC digits 5-6)."""
    return _weighted_ok("0" + bic[4:6] + _account_digits(account))


def with_settlement_key(bic: str, account: str) -> str:
    """The account with its key digit (the ninth character) set so that settlement_account_ok holds."""
    return _with_key(account, lambda acc: settlement_account_ok(bic, acc))


def with_correspondent_key(bic: str, account: str) -> str:
    """The correspondent account with its key digit set so that correspondent_account_ok holds."""
    return _with_key(account, lambda acc: correspondent_account_ok(bic, acc))


def _with_key(account: str, ok: Callable[[str], bool]) -> str:
    for digit in "0123456789":
        candidate = account[:8] + digit + account[9:]
        if ok(candidate):
            return candidate
    raise ValueError(f"no key digit makes {account!r} valid")  # cannot happen: the key's weight is 1 or 3


def _inn_key(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10)


def inn_ok(inn: str) -> bool:
    """True for a 10-digit (organisation) or 12-digit (person) INN whose control digits match."""
    if not inn.isascii() or not inn.isdigit():
        return False
    if len(inn) == 10:
        return inn[9] == _inn_key(inn, INN10_WEIGHTS)
    if len(inn) == 12:
        return inn[10] == _inn_key(inn, INN11_WEIGHTS) and inn[11] == _inn_key(inn, INN12_WEIGHTS)
    return False


def with_inn_keys(stem: str) -> str:
    """A valid INN from its first 9 (organisation) or 10 (person) digits."""
    if len(stem) == 9:
        return stem + _inn_key(stem, INN10_WEIGHTS)
    if len(stem) == 10:
        eleven = stem + _inn_key(stem, INN11_WEIGHTS)
        return eleven + _inn_key(eleven, INN12_WEIGHTS)
    raise ValueError(f"an INN stem has 9 or 10 digits, not {len(stem)}")
