"""Driving a terminal's session from tests, one event at a time as its event loop would."""


def act(terminal, *events):
    """Post each event and handle it; then let deliveries in flight finish and handle what they posted."""
    for event in events:
        terminal.post(event)
        terminal.pump()
    terminal.outbox.wait_idle()
    terminal.pump()


def to_cash(terminal, provider="mts", account="9123456789"):
    """Walk a payer from idle to the cash screen; returns the operation number opened for them."""
    from kiosk import events as ev

    act(terminal, ev.Touch(), ev.ChooseProvider(provider), ev.EditAccount(account), ev.SubmitAccount(),
        ev.Confirm())
    assert terminal.session.state == "cash_collection"
    return terminal.session.operation
