"""The payment session declared as data: states, their timeouts and transitions; drawable as a diagram.

Every decision that depends on the state lives here: which trigger applies in which state, under which
conditions (pure questions to the session), and which callback runs on the way. A transition with
``"dest": None`` is internal: the state stays, no entry action runs, its ``after`` callback answers the payer.
"""

from __future__ import annotations

from typing import Any

# States in the order a payment walks through them. A state with a timeout waits for a person or a reply.
STATES = [
    "out_of_service",
    "idle",
    "category",
    "provider",
    "account_entry",
    "online_check",
    "debt",  # utility bills: the debt by service the check answered
    "readings",  # utility bills: one meter at a time
    "confirmation",
    "cash_collection",
    "commit",
    "delivery",
    "receipt",
    "service",
]

#: state → key of its timeout in the configuration's [session.timeouts]
TIMEOUTS = {
    "category": "category",
    "provider": "provider",
    "account_entry": "account_entry",
    "online_check": "online_check",
    "confirmation": "confirmation",
    "cash_collection": "cash_collection",
    "delivery": "delivery",
    "receipt": "receipt",
    "service": "service",
    "debt": "confirmation",
    "readings": "account_entry",
}

#: states where the session waits for the payer (not a reply or a device): the payer may ask for more time
MORE_TIME_STATES = ("category", "provider", "account_entry", "confirmation", "cash_collection", "debt", "readings")

BEFORE_MONEY = ["category", "provider", "account_entry", "online_check", "confirmation", "debt", "readings"]
CHOOSING = ["category", "provider"]

#: the trigger that took the session into "commit" → the reason journaled with the commit
COMMIT_REASONS = {"pay": "pay", "bill_settled": "pay", "timeout": "timeout", "device_fault": "device_fault"}

#: fired by the session after every trigger until it no longer applies: the states the machine passes
#: through without waiting for anyone (UML's completion transitions), declared instead of fired by entry actions
COMPLETION = "proceed"

Transition = dict[str, Any]

# Read top to bottom: for one trigger, the first transition whose source and conditions hold is taken.
TRANSITIONS: list[Transition] = [
    # The attract screen. With no printer where a receipt is required, no money is taken at all.
    {"trigger": "touch", "source": "idle", "dest": "out_of_service", "prepare": "look_at_printer",
     "conditions": "receipt_impossible", "before": "note_printer_fault"},
    {"trigger": "touch", "source": "idle", "dest": "category", "before": "note_no_receipt"},
    {"trigger": "choose_category", "source": "category", "dest": "provider", "before": "take_category"},
    {"trigger": "choose_provider", "source": ["idle"] + CHOOSING, "dest": "account_entry",
     "prepare": "take_provider", "conditions": "provider_available", "before": "note_offline",
     "after": "use_typed_phone"},
    {"trigger": "choose_provider", "source": ["idle"] + CHOOSING, "dest": None, "after": "say_unavailable"},
    # A phone number typed before choosing an operator; an operator nobody knows is the payer's choice,
    # since a guess could send money to a stranger.
    {"trigger": "enter_phone", "source": "category", "dest": "provider", "conditions": "operator_unknown",
     "before": "take_mobile", "after": "ask_for_operator"},
    {"trigger": "enter_phone", "source": "provider", "dest": None, "conditions": "operator_unknown",
     "after": "ask_for_operator"},
    {"trigger": "enter_phone", "source": CHOOSING, "dest": "account_entry", "prepare": "take_provider",
     "conditions": "provider_available", "before": "note_offline", "after": "take_phone_number"},
    {"trigger": "enter_phone", "source": CHOOSING, "dest": None, "after": "say_unavailable"},
    # A scanned bill (utility bills): its payee picks the provider and its account is filled in; the session then
    # submits the account. A code that cannot be paid here is explained in the parser's words.
    {"trigger": "scan", "source": ["idle", "account_entry"] + CHOOSING, "dest": "account_entry",
     "prepare": "take_provider", "conditions": "provider_available", "before": "note_offline", "after": "take_bill"},
    {"trigger": "scan", "source": ["idle", "account_entry"] + CHOOSING, "dest": None, "after": "say_unavailable"},
    {"trigger": "scan_refused", "source": "idle", "dest": "category", "after": "take_scan_problem"},
    {"trigger": "scan_refused", "source": ["account_entry"] + CHOOSING, "dest": None, "after": "take_scan_problem"},
    {"trigger": "edit_account", "source": "account_entry", "dest": None, "after": "take_account_text"},
    {"trigger": "submit_account", "source": "account_entry", "dest": "online_check",
     "conditions": ["account_valid", "wants_online_check"], "before": "clear_account_error"},
    {"trigger": "submit_account", "source": "account_entry", "dest": "confirmation",
     "conditions": ["account_valid", "payable_without_check"], "before": ["clear_account_error", "note_offline"]},
    {"trigger": "submit_account", "source": "account_entry", "dest": None, "after": "show_account_problem"},
    # A check that answers the debt by service shows it first; then each meter, if the provider takes readings.
    {"trigger": "check_payable", "source": "online_check", "dest": "debt", "conditions": "has_debt",
     "before": ["take_check_details", "take_debt"]},
    {"trigger": "check_payable", "source": "online_check", "dest": "confirmation", "before": "take_check_details"},
    {"trigger": "debt_next", "source": "debt", "dest": "readings", "conditions": "takes_readings",
     "before": "start_readings"},
    {"trigger": "debt_next", "source": "debt", "dest": "confirmation"},
    {"trigger": "edit_reading", "source": "readings", "dest": None, "after": "take_reading_text"},
    {"trigger": "submit_reading", "source": "readings", "dest": None, "conditions": "reading_acceptable",
     "after": "take_reading"},
    {"trigger": "submit_reading", "source": "readings", "dest": None, "after": "show_reading_problem"},
    {"trigger": "skip_reading", "source": "readings", "dest": None, "conditions": "reading_skippable",
     "after": "skip_meter"},
    {"trigger": COMPLETION, "source": "readings", "dest": "confirmation", "conditions": "readings_done"},
    {"trigger": "check_refused", "source": "online_check", "dest": "account_entry", "before": "take_refusal",
     "after": "say_refusal"},
    {"trigger": "check_unreachable", "source": "online_check", "dest": "confirmation",
     "conditions": "offline_possible", "before": "go_offline"},
    {"trigger": "check_unreachable", "source": "online_check", "dest": "provider", "after": "say_unavailable"},
    {"trigger": "confirm", "source": "confirmation", "dest": "cash_collection"},
    # Bills in escrow: stacked only while collecting, with room under the maximum and nothing else in flight.
    {"trigger": "escrow", "source": "cash_collection", "dest": None, "conditions": ["taking_bills", "bill_fits"],
     "after": "stack_bill"},
    {"trigger": "escrow", "source": "cash_collection", "dest": None, "conditions": "taking_bills",
     "after": "refuse_bill"},
    {"trigger": "escrow", "source": "*", "dest": None, "after": "return_bill"},
    # Pay: a bill on its way to the cassette is waited for (briefly); too little money asks for more.
    {"trigger": "pay", "source": "cash_collection", "dest": None, "conditions": "bill_in_transit",
     "after": "wait_for_bill"},
    {"trigger": "pay", "source": "cash_collection", "dest": "commit", "conditions": "enough_cash"},
    {"trigger": "pay", "source": "cash_collection", "dest": None, "after": "ask_for_more"},
    {"trigger": "bill_settled", "source": "cash_collection", "dest": "commit", "conditions": "enough_cash"},
    {"trigger": "more_time", "source": list(MORE_TIME_STATES), "dest": None, "conditions": "no_pay_pending",
     "after": "restart_timeout"},
    # The operation could not be journaled: no money may be taken.
    {"trigger": COMPLETION, "source": "cash_collection", "dest": "out_of_service", "conditions": "operation_refused"},
    {"trigger": COMPLETION, "source": "commit", "dest": "delivery"},
    {"trigger": COMPLETION, "source": "delivery", "dest": "receipt", "conditions": "delivery_deferred",
     "before": "note_queued"},
    {"trigger": "delivered", "source": "delivery", "dest": "receipt", "before": "take_outcome"},
    {"trigger": "receipt_done", "source": "receipt", "dest": "out_of_service", "conditions": "faulty"},
    {"trigger": "receipt_done", "source": "receipt", "dest": "idle"},
    {"trigger": "back", "source": "category", "dest": "idle"},
    {"trigger": "back", "source": "provider", "dest": "category"},
    {"trigger": "back", "source": "account_entry", "dest": "provider"},
    {"trigger": "back", "source": "debt", "dest": "account_entry"},
    {"trigger": "back", "source": "readings", "dest": None, "conditions": "earlier_meter", "after": "previous_meter"},
    {"trigger": "back", "source": "readings", "dest": "debt"},
    {"trigger": "back", "source": "confirmation", "dest": "debt", "conditions": "debt_known"},
    {"trigger": "back", "source": "confirmation", "dest": "account_entry"},
    {"trigger": "cancel", "source": BEFORE_MONEY, "dest": "idle"},
    # With money inside there is no cancel: the payer's money goes to the account they entered.
    {"trigger": "cancel", "source": "cash_collection", "dest": "idle", "conditions": "no_cash"},
    {"trigger": "cancel", "source": "cash_collection", "dest": None, "after": "refuse_cancel"},
    {"trigger": "timeout", "source": BEFORE_MONEY + ["service"], "dest": "idle"},
    {"trigger": "timeout", "source": "cash_collection", "dest": "commit", "conditions": "has_cash"},
    {"trigger": "timeout", "source": "cash_collection", "dest": "idle"},
    {"trigger": "timeout", "source": "delivery", "dest": "receipt"},
    {"trigger": "timeout", "source": "receipt", "dest": "out_of_service", "conditions": "faulty"},
    {"trigger": "timeout", "source": "receipt", "dest": "idle"},
    {"trigger": "device_fault", "source": ["idle"] + BEFORE_MONEY, "dest": "out_of_service"},
    {"trigger": "device_fault", "source": "cash_collection", "dest": "commit", "conditions": "has_cash"},
    {"trigger": "device_fault", "source": "cash_collection", "dest": "out_of_service"},
    {"trigger": "recovered", "source": "out_of_service", "dest": "idle", "unless": "locked"},
    # Out of service for want of a printer: looked at again every few seconds.
    {"trigger": "tick", "source": "out_of_service", "dest": "idle", "prepare": "recheck_printer",
     "conditions": ["printer_fault", "printer_back"], "unless": "locked", "before": "clear_fault"},
    # Locked by the dealer (a remote command, applied only between payments): out of service with their message
    # until unlocked; a device coming back or a visit to the service menu does not end it.
    {"trigger": "lock", "source": ["idle", "out_of_service"], "dest": "out_of_service", "before": "take_lock"},
    {"trigger": "unlock", "source": "out_of_service", "dest": "idle", "unless": "faulty", "before": "drop_lock"},
    {"trigger": "unlock", "source": "*", "dest": None, "after": "drop_lock"},
    {"trigger": "service_login", "source": ["idle", "out_of_service"], "dest": "service"},
    {"trigger": "service_exit", "source": "service", "dest": "out_of_service", "conditions": "faulty"},
    {"trigger": "service_exit", "source": "service", "dest": "out_of_service", "conditions": "locked"},
    {"trigger": "service_exit", "source": "service", "dest": "idle"},
    # Something failed inside the terminal (the journal, a driver): stop the money wherever the session is.
    # Whatever was journaled stays; start-up reconciliation finishes it after the restart.
    {"trigger": "internal_fault", "source": "*", "dest": "out_of_service", "before": "stop_taking_money"},
]

ANY_STATE = "any_state"


def _sources(transition: Transition) -> list[str]:
    source = transition["source"]
    return [ANY_STATE] if source == "*" else ([source] if isinstance(source, str) else list(source))


def _label(transition: Transition) -> str:
    conditions = transition.get("conditions", [])
    conditions = [conditions] if isinstance(conditions, str) else conditions
    return transition["trigger"] + (f" [{', '.join(conditions)}]" if conditions else "")


def edges() -> list[tuple[str, str, str]]:
    """(source, destination, label) for every declared transition; an internal one loops on its state."""
    return [(source, transition["dest"] or source, _label(transition))
            for transition in TRANSITIONS for source in _sources(transition)]


def diagram_dot() -> str:
    """The state machine as Graphviz DOT, generated from the same declaration the session runs."""
    lines = ["digraph session {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="DejaVu Sans"];']
    for state in STATES:
        label = f"{state}\\n(timeout)" if state in TIMEOUTS else state
        lines.append(f'  {state} [label="{label}"];')
    lines.append(f'  {ANY_STATE} [label="any state", style=dashed];')
    lines += [f'  {source} -> {dest} [label="{label}"];' for source, dest, label in edges()]
    lines.append("}")
    return "\n".join(lines)


def diagram_mermaid() -> str:
    """The state machine as a Mermaid state diagram (renders on code hosting sites)."""
    lines = ["stateDiagram-v2", "  [*] --> idle"]
    lines += [f"  {source} --> {dest}: {label}" for source, dest, label in edges()]
    return "\n".join(lines)
