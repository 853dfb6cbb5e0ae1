"""Theme packs in the dealer service: upload (checked by the terminal's own code), preview, assign, deliver."""
