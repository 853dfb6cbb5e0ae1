"""Corrections of payments (issue 15): requested in the portal, API or CLI, approved by a second person where money
moves, sent to the terminal that owns the payment as a remote command, and audited at every step."""
