"""Certificate-authenticated updates: TUF metadata over the dealer link, releases side by side, health, rollback."""
