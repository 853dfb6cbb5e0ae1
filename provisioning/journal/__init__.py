"""Uploaded terminal journals on the dealer side: tables, ingest, the terminal route, lookup and the story."""
