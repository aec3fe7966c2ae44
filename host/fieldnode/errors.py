"""User-facing errors: one line that says what was wrong and what to do, and an exit code.

Low-level errors (a serial port, a modem, a parser) are wrapped into one of these with a hint; the CLI's one
top-level handler prints ``error: <message>`` and exits with ``code`` (see ``fieldnode.cli.main``).
"""


class FieldnodeError(Exception):
    """An error a user can act on. ``hint`` says what to do."""

    code = 1

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(FieldnodeError):
    code = 2


class ConfigError(FieldnodeError):
    """A malformed file: a board file, a config, a scenario. The message names file and field."""

    code = 3


class DeviceError(FieldnodeError):
    """The port, the board or its modem did not do what was asked."""

    code = 4


class NetworkError(FieldnodeError):
    code = 5
