"""Processing-system adapters and the router."""
