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


class MicroPythonError(FieldnodeError):
    """Code raised on MicroPython (a board's raw REPL, the unix port). ``traceback`` is MicroPython's own, ``out``
    what the code printed before it, ``exc_type`` the exception's name (``ZeroDivisionError``)."""

    def __init__(self, where: str, traceback: str, out: str = ""):
        self.traceback = traceback.replace("\r\n", "\n").strip()
        self.out = out
        last = self.traceback.splitlines()[-1] if self.traceback else "an error"
        self.exc_type = last.split(":", 1)[0].strip()
        super().__init__(f"{where} raised {last}")

    def __str__(self) -> str:
        printed = f"\n--- it printed first:\n{self.out.rstrip()}" if self.out.strip() else ""
        return f"{self.message}\n--- MicroPython traceback:\n{self.traceback}{printed}"
