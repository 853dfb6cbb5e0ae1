"""The small exception tree: faults only; outcomes of the outside world are values."""

from __future__ import annotations


class KioskError(Exception):
    """Base of every fault kiosk raises on purpose."""


class ConfigError(KioskError):
    """A configuration, catalog, scenario or theme document is missing or invalid."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {problem}")


class JournalError(KioskError):
    """The journal cannot be opened or written."""


class SchemaTooNewError(JournalError):
    """The journal was written by a newer kiosk; refusing to touch it rather than guess."""


class DeviceError(KioskError):
    """A device fault (not a device happening such as a rejected bill, which is a value)."""


class DeviceInitializationError(DeviceError):
    """The device could not be opened or set up."""


class DeviceOperationError(DeviceError):
    """A command to an open device failed."""


class DeviceTimeoutError(DeviceError):
    """The device stopped answering."""


class GatewayError(KioskError):
    """A gateway is misconfigured (transport faults are outcomes, not this)."""


class SessionError(KioskError):
    """An event that the payment session cannot accept in its current state."""
