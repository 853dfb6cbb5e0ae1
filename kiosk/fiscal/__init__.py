"""Fiscal registrars (ККТ, 54-FZ): the port every registrar driver implements, and FFD TLV helpers."""
