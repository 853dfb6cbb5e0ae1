"""The terminal's side of the dealer link: enrollment, signed mutually-authenticated requests, heartbeats."""
