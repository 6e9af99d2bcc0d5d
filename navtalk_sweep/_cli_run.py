"""CLI commands that run things: run, mock, report, compare, merge."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the commands of this module to the CLI's subparsers."""
