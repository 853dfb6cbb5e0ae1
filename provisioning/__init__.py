"""The dealer service (`kiosk-dealer`): enrollment, terminal identity, tenants and roles, the portal."""
