"""Driving a terminal's session from tests, one event at a time as its event loop would."""


def act(terminal, *events):
    """Post each event and handle it; then let deliveries in flight finish and handle what they posted."""
    for event in events:
        terminal.post(event)
        terminal.pump()
    terminal.outbox.wait_idle()
    terminal.pump()
