"""Remote commands: queued in the portal, long-polled by the terminal over its authenticated link, run once."""
