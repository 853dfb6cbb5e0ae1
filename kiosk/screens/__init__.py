"""Pygame screens, widgets, themes and translations."""
