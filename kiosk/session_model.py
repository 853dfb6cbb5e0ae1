"""The payment session declared as data: states, their timeouts and transitions; drawable as a diagram."""

from __future__ import annotations

# States in the order a payment walks through them. A state with a timeout waits for a person or a reply.
STATES = [
    "out_of_service",
    "idle",
    "category",
    "provider",
    "account_entry",
    "online_check",
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
}

#: states where the session waits for the payer (not a reply or a device): the payer may ask for more time
MORE_TIME_STATES = ("category", "provider", "account_entry", "confirmation", "cash_collection")

BEFORE_MONEY = ["category", "provider", "account_entry", "online_check", "confirmation"]

# Read top to bottom: for one trigger, the first transition whose conditions hold is taken.
TRANSITIONS = [
    {"trigger": "touch", "source": "idle", "dest": "category"},
    {"trigger": "choose_category", "source": "category", "dest": "provider"},
    {"trigger": "choose_provider", "source": ["idle", "category", "provider"], "dest": "account_entry",
     "conditions": "provider_available"},
    {"trigger": "submit_account", "source": "account_entry", "dest": "online_check",
     "conditions": ["account_valid", "wants_online_check"]},
    {"trigger": "submit_account", "source": "account_entry", "dest": "confirmation",
     "conditions": ["account_valid", "payable_without_check"]},
    {"trigger": "check_payable", "source": "online_check", "dest": "confirmation"},
    {"trigger": "check_refused", "source": "online_check", "dest": "account_entry"},
    {"trigger": "check_unreachable", "source": "online_check", "dest": "confirmation",
     "conditions": "offline_possible"},
    {"trigger": "check_unreachable", "source": "online_check", "dest": "provider"},
    {"trigger": "confirm", "source": "confirmation", "dest": "cash_collection"},
    {"trigger": "pay", "source": "cash_collection", "dest": "commit", "conditions": ["enough_cash", "bills_settled"]},
    {"trigger": "committed", "source": "commit", "dest": "delivery"},
    {"trigger": "delivered", "source": "delivery", "dest": "receipt"},
    {"trigger": "receipt_done", "source": "receipt", "dest": "out_of_service", "conditions": "faulty"},
    {"trigger": "receipt_done", "source": "receipt", "dest": "idle"},
    {"trigger": "back", "source": "category", "dest": "idle"},
    {"trigger": "back", "source": "provider", "dest": "category"},
    {"trigger": "back", "source": "account_entry", "dest": "provider"},
    {"trigger": "back", "source": "confirmation", "dest": "account_entry"},
    {"trigger": "cancel", "source": BEFORE_MONEY, "dest": "idle"},
    # With money inside there is no cancel: the payer's money goes to the account they entered.
    {"trigger": "cancel", "source": "cash_collection", "dest": "idle", "conditions": "no_cash"},
    {"trigger": "timeout", "source": BEFORE_MONEY + ["service"], "dest": "idle"},
    {"trigger": "timeout", "source": "cash_collection", "dest": "commit", "conditions": "has_cash"},
    {"trigger": "timeout", "source": "cash_collection", "dest": "idle"},
    {"trigger": "timeout", "source": "delivery", "dest": "receipt"},
    {"trigger": "timeout", "source": "receipt", "dest": "out_of_service", "conditions": "faulty"},
    {"trigger": "timeout", "source": "receipt", "dest": "idle"},
    {"trigger": "device_fault", "source": ["idle"] + BEFORE_MONEY, "dest": "out_of_service"},
    {"trigger": "device_fault", "source": "cash_collection", "dest": "commit", "conditions": "has_cash"},
    {"trigger": "device_fault", "source": "cash_collection", "dest": "out_of_service"},
    {"trigger": "recovered", "source": "out_of_service", "dest": "idle"},
    {"trigger": "service_login", "source": ["idle", "out_of_service"], "dest": "service"},
    {"trigger": "service_exit", "source": "service", "dest": "out_of_service", "conditions": "faulty"},
    {"trigger": "service_exit", "source": "service", "dest": "idle"},
]


def _sources(transition: dict) -> list[str]:
    source = transition["source"]
    return list(STATES) if source == "*" else ([source] if isinstance(source, str) else list(source))


def diagram_dot() -> str:
    """The state machine as Graphviz DOT, generated from the same declaration the session runs."""
    lines = ["digraph session {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="DejaVu Sans"];']
    for state in STATES:
        label = f"{state}\\n(timeout)" if state in TIMEOUTS else state
        lines.append(f'  {state} [label="{label}"];')
    for transition in TRANSITIONS:
        conditions = transition.get("conditions", [])
        conditions = [conditions] if isinstance(conditions, str) else conditions
        label = transition["trigger"] + (f" [{', '.join(conditions)}]" if conditions else "")
        for source in _sources(transition):
            lines.append(f'  {source} -> {transition["dest"]} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)


def diagram_mermaid() -> str:
    """The state machine as a Mermaid state diagram (renders on code hosting sites)."""
    lines = ["stateDiagram-v2", "  [*] --> idle"]
    for transition in TRANSITIONS:
        conditions = transition.get("conditions", [])
        conditions = [conditions] if isinstance(conditions, str) else conditions
        label = transition["trigger"] + (f" [{', '.join(conditions)}]" if conditions else "")
        for source in _sources(transition):
            lines.append(f"  {source} --> {transition['dest']}: {label}")
    return "\n".join(lines)
