"""Shared CLI plumbing: the database option, error reporting, output helpers.

Every failure the user can cause ends as one readable line on stderr and a non-zero exit code;
tracebacks are for bugs only.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console

from battrace.config import Settings
from battrace.domain.errors import BattraceError, InvalidInput, NotAuthorised
from battrace.persistence import Store, open_store

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class State:
    db: str | None = None
    _store: Store | None = None

    def reset(self, db: str | None) -> None:
        """Called once per invocation (tests invoke the app many times in one process)."""
        if self._store is not None:
            self._store.close()
        self.db = db
        self._store = None

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.db)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.database_url)
        return self._store


state = State()


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn battrace's own errors into one line on stderr and exit code 1 (2 for bad input)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (InvalidInput, NotAuthorised) as exc:
            fail(str(exc), 2)
        except BattraceError as exc:
            fail(str(exc), 1)
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), 1)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
