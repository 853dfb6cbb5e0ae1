"""Configuration documents pushed to terminals: versions, assignments, gateway secrets, signed bundles."""
