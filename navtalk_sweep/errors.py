"""The exceptions navtalk-sweep raises, all under one root.

    NavTalkSweepError
    ├── UsageError: the command line cannot be run as given (flags, environment, an answer)
    ├── InvalidArgument (also TypeError): misuse of the Python API
    ├── ScenarioError: a scenario file is broken (path, line, column)
    ├── ContractViolation: a request maps to none of the nine modes
    ├── ClientError: talking to a NavTalk endpoint went wrong (task_id, when polling)
    │   ├── TransportError: the request may not have arrived (sent: bool)
    │   ├── ServiceError: the service answered with an error (status_code, message)
    │   │   ├── LicenseRejected
    │   │   └── RateLimited (retry_after)
    │   └── MalformedResponse: the answer could not be understood
    └── RunError: a run directory cannot be used (path)

A message says where, what was expected, what was found, and a hint when there is
one, on one line: every message is folded to one line where it is made. The CLI maps
every NavTalkSweepError to exit code 2.
"""

from __future__ import annotations

__all__ = [
    "ClientError",
    "ContractViolation",
    "InvalidArgument",
    "LicenseRejected",
    "MalformedResponse",
    "NavTalkSweepError",
    "RateLimited",
    "RunError",
    "ScenarioError",
    "ServiceError",
    "TransportError",
    "UsageError",
]


class NavTalkSweepError(Exception):
    """The root of every error navtalk-sweep raises on purpose."""


class UsageError(NavTalkSweepError):
    """The command line cannot be run as given: a flag, the environment, or the user's answer."""


class InvalidArgument(NavTalkSweepError, TypeError):
    """The Python API was called with arguments it cannot accept."""


class ScenarioError(NavTalkSweepError):
    """A scenario file cannot be used; the message starts with ``path:line:column``."""

    def __init__(self, message: str, *, path: str = "<string>", line: int = 0, column: int = 0) -> None:
        self.path, self.line, self.column, self.detail = path, line, column, message
        where = f"{path}:{line}:{column}" if line else path
        super().__init__(f"{where}: {message}")


class ContractViolation(NavTalkSweepError, ValueError):
    """A request body maps to none of the nine modes of the contract."""


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace or control characters becomes one space."""
    return " ".join("".join(" " if (ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029") else ch
                            for ch in text).split())


class ClientError(NavTalkSweepError):
    """A call to a NavTalk endpoint did not give a usable answer; ``task_id`` is set when polling."""

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        self.task_id = task_id
        super().__init__(one_line(message))


class TransportError(ClientError):
    """No HTTP answer arrived; ``sent`` says whether the request may have reached the service."""

    def __init__(self, message: str, *, sent: bool, **context: str | None) -> None:
        self.sent = sent
        super().__init__(message, **context)


class ServiceError(ClientError):
    """The service answered with an error status or an error body."""

    def __init__(self, message: str, *, status_code: int, **context: str | None) -> None:
        self.status_code = status_code
        super().__init__(message, **context)


class LicenseRejected(ServiceError):
    """The service refused the licence: nothing else in the run can succeed."""


class RateLimited(ServiceError):
    """The service asked us to slow down (HTTP 429), maybe saying for how long."""

    def __init__(self, message: str, *, retry_after: float | None, **context: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **context)  # type: ignore[arg-type]


class MalformedResponse(ClientError):
    """The answer was not the JSON the contract describes."""


class RunError(NavTalkSweepError):
    """A run directory is missing, unreadable or not a navtalk-sweep run."""
