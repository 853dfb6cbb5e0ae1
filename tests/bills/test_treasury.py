"""Treasury accounts (03…) at a territorial body of the Federal Treasury (TOFK BIC 0…, not 04…)."""

from __future__ import annotations

from kiosk.bills.checksums import correspondent_account_ok, settlement_account_ok
from kiosk.bills.gost_qr import PaymentCode, format_code, parse
from kiosk.bills.refusals import Reason, Refusal

# public payment details of the state duty paid to the Federal Tax Service, and of the Moscow treasury office
FNS = ("017003983", "03100643000000018500", "40102810445370000059")
MOSCOW = ("004525988", "03100643000000017300", "40102810545370000003")


def code(bic: str, account: str, eks: str) -> str:
    return (f"ST00012|Name=УФК по Тульской области|"
            f"PersonalAcc={account}|BankName=ОТДЕЛЕНИЕ ТУЛА БАНКА РОССИИ|"
            f"BIC={bic}|CorrespAcc={eks}|PayeeINN=7727406020|KPP=770801001|Sum=50000|CBC=18210803010011050110|"
            "OKTMO=70701000")


def test_the_bank_of_russia_key_does_not_hold_for_public_treasury_accounts_but_does_for_their_eks() -> None:
    for bic, account, eks in (FNS, MOSCOW):
        assert correspondent_account_ok(bic, eks)
        assert not settlement_account_ok(bic, account)
        assert not settlement_account_ok("0" + bic[4:6] + bic[6:], account)  # nor with "0" + digits 5-6


def test_a_bill_to_a_treasury_account_is_accepted_and_written_back() -> None:
    for details in (FNS, MOSCOW):
        text = code(*details)
        parsed = parse(text)
        assert isinstance(parsed, PaymentCode) and parsed.personal_acc == details[1]
        assert format_code(parsed) == text.encode()


def test_a_treasury_account_at_a_bank_bic_or_a_broken_eks_is_refused() -> None:
    at_a_bank = parse(code("044525225", FNS[1], "30101810400000000225"))
    assert isinstance(at_a_bank, Refusal) and (at_a_bank.reason, at_a_bank.field) == (Reason.BAD_VALUE, "PersonalAcc")
    broken_eks = parse(code(FNS[0], FNS[1], "40102810445370000058"))
    assert isinstance(broken_eks, Refusal) and broken_eks.reason == Reason.BAD_CORRESPONDENT_KEY
