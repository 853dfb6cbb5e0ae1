"""Charge registries of utility providers: upload, validation, the debt lookup they answer, payments booked here."""
