"""The durable journal and the outbox that delivers operations."""
