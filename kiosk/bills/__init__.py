"""Utility bills (ЖКУ): the GOST R 56042 payment code printed on a unified bill (ЕПД)."""
