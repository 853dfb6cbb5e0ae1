"""kiosk: firmware for self-service cash payment terminals."""

__version__ = "0.1.0"
