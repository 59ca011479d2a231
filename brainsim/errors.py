"""One exception hierarchy for brainsim.

Every message says *where* (``file:line:col`` or a dotted YAML path such as
``areas.bg.channels``), *what* was expected, *what* was found and *how to fix
it*.  The CLI prints ``str(error)`` without a traceback and exits with status 2.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Optional


@dataclass(frozen=True)
class Location:
    """A place in a wiring file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class BrainsimError(Exception):
    """Base class of every error brainsim raises on purpose.

    Args:
        message: what was expected and what was found.
        where: a :class:`Location` or a dotted path (``areas.bg.channels``).
        hint: how to fix it (printed after ``hint:``).
    """

    def __init__(self, message: str, where: "Location | str | None" = None, hint: Optional[str] = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        prefix = f"{self.where}: " if self.where is not None else ""
        text = f"{prefix}error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:  # keep str() in sync if attributes are edited
        return self.format()


class WiringError(BrainsimError):
    """A wiring file is malformed: bad YAML, schema, graph or dimensions."""


class AreaError(BrainsimError):
    """An area type or its configuration is invalid."""


class ShapeError(BrainsimError):
    """Arrays handed to a brain do not have the declared shapes."""


class ScenarioError(BrainsimError):
    """A scenario name, option or override is invalid."""


class NonFiniteError(BrainsimError):
    """A NaN or Inf appeared in an area's output or cost during training."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(word), sorted(map(str, choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
