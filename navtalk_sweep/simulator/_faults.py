"""Every fault the simulator can play, declared once: what it does and how the HTTP adapters act it out.

The simulator reads :data:`FAULT_KINDS` to decide when a fault strikes (before or after
a task exists) and what it answers; ``mock_server`` reads the same entry to render the
answer (a JSON error, a dropped connection, a torn body, an HTML page, a date header).
A new kind is one entry here plus its test.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


class FaultStage(enum.StrEnum):
    """When a fault acts."""

    HTTP = "http"  # on one call's answer (submit or query)
    TASK = "task"  # on how an accepted task ends
    REJECT = "reject"  # a submit refused with the reject status and a message


class FaultAnswer(enum.StrEnum):
    """How the HTTP face plays an HTTP fault."""

    JSON_ERROR = "json_error"  # the status code with a JSON error body
    DROP = "drop"  # the connection closes before a complete answer
    SLOW = "slow"  # the normal answer, ``delay`` seconds late
    TORN_JSON = "torn_json"  # 200 with half a JSON body
    HTML_PAGE = "html_page"  # a proxy's HTML error page


class RetryAfter(enum.StrEnum):
    """How a 429 says when to come back (RFC 9110 allows both)."""

    SECONDS = "seconds"
    HTTP_DATE = "http_date"


@dataclass(frozen=True)
class FaultKind:
    name: str
    stage: FaultStage
    description: str
    answer: FaultAnswer | None = None  # HTTP faults only
    status: int | None = None  # the HTTP status of JSON_ERROR and HTML_PAGE answers
    #: at submit: the task is created and then the answer is lost, so a client cannot know it exists
    after_create: bool = False
    retry_after: RetryAfter | None = None


_KINDS: Final = (
    FaultKind("http_500", FaultStage.HTTP, "500 after the task was created", FaultAnswer.JSON_ERROR, 500, after_create=True),
    FaultKind("http_502", FaultStage.HTTP, "502 from a gateway after the task was created", FaultAnswer.JSON_ERROR, 502,
              after_create=True),
    FaultKind("http_503", FaultStage.HTTP, "503 before anything was done", FaultAnswer.JSON_ERROR, 503),
    FaultKind("http_504", FaultStage.HTTP, "504 from a gateway that gave up waiting; the task may exist",
              FaultAnswer.JSON_ERROR, 504, after_create=True),
    FaultKind("rate_limit", FaultStage.HTTP, "429, with Retry-After in seconds when retry_after is set",
              FaultAnswer.JSON_ERROR, 429, retry_after=RetryAfter.SECONDS),
    FaultKind("rate_limit_date", FaultStage.HTTP, "429 with Retry-After as an HTTP date (retry_after seconds ahead)",
              FaultAnswer.JSON_ERROR, 429, retry_after=RetryAfter.HTTP_DATE),
    FaultKind("drop", FaultStage.HTTP, "the connection closes mid-answer (after the task was created)", FaultAnswer.DROP,
              after_create=True),
    FaultKind("slow", FaultStage.HTTP, "the answer comes delay seconds late", FaultAnswer.SLOW, after_create=True),
    FaultKind("malformed_json", FaultStage.HTTP, "200 with a torn JSON body (after the task was created)",
              FaultAnswer.TORN_JSON, 200, after_create=True),
    FaultKind("html_error", FaultStage.HTTP, "a proxy's 502 HTML page (after the task was created)", FaultAnswer.HTML_PAGE, 502,
              after_create=True),
    FaultKind("task_failed", FaultStage.TASK, "the task ends failed with message"),
    FaultKind("never_finish", FaultStage.TASK, "the task stays processing for ever"),
    FaultKind("unknown_status", FaultStage.TASK, "the task ends in a status the contract does not name (status)"),
    FaultKind("reject", FaultStage.REJECT, "the submit is refused with message"),
)

#: every fault kind by name
FAULT_KINDS: Final[Mapping[str, FaultKind]] = {k.name: k for k in _KINDS}


def kinds_at(stage: FaultStage) -> frozenset[str]:
    """The names of the kinds that act at ``stage``."""
    return frozenset(k.name for k in _KINDS if k.stage is stage)
