"""Providers' daily payment registries (built, archived, delivered), reconciliation with the processing system's
registry, and turnover figures."""
