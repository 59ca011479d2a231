"""The task registry: name -> factory, with documented, type-checked options.

Every task class declares ``options``: ``{name: TaskOption(type, default, doc)}``.
:func:`get_task` checks keyword options against it (unknown name or wrong type
-> :class:`~brainsim.errors.ScenarioError` naming ``task.<option>``), and
:func:`task_catalogue` lists every registered task with its options (what
``brainsim list tasks`` prints).

Register your own task with ``@register_task("name")`` on a
:class:`~brainsim.tasks.base.Task` subclass that declares ``options``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple, Type

from ..errors import ScenarioError, did_you_mean

__all__ = ["TaskOption", "TASKS", "register_task", "get_task", "task_catalogue", "check_options"]


@dataclass(frozen=True)
class TaskOption:
    """One documented option of a task.

    Attributes:
        type: the accepted Python type(s), e.g. ``int`` or ``(int, float)``; ``object`` accepts anything.
        default: the value used when the option is not given.
        doc: one line.
    """

    type: Any
    default: Any
    doc: str

    def type_name(self) -> str:
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return " | ".join(getattr(t, "__name__", str(t)) for t in types)


TASKS: Dict[str, Type] = {}
"""Registry: task name -> task class (a factory taking the documented keyword options)."""


def register_task(name: str) -> Callable[[Type], Type]:
    """Class decorator: register a task class under ``name`` (sets ``cls.name``)."""

    def deco(cls: Type) -> Type:
        if name in TASKS and TASKS[name] is not cls:
            raise ScenarioError(f"task name {name!r} is registered twice ({TASKS[name].__name__}, {cls.__name__})",
                                where="task", hint="pick another name")
        cls.name = name
        TASKS[name] = cls
        return cls

    return deco


def _accepts(opt: TaskOption, value: Any) -> bool:
    types = opt.type if isinstance(opt.type, tuple) else (opt.type,)
    if object in types or value is None and opt.default is None:
        return True
    if isinstance(value, bool) and bool not in types:
        return False
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def check_options(name: str, options: Dict[str, TaskOption], kwargs: Dict[str, Any]) -> None:
    """Raise ScenarioError for an unknown option or a value of the wrong type."""
    for k, v in kwargs.items():
        if k not in options:
            raise ScenarioError(f"bad options for task {name!r}: no option {k!r}{did_you_mean(k, options)}",
                                where=f"task.{k}",
                                hint="options: " + ", ".join(f"{o}={d.default!r}" for o, d in options.items()))
        if not _accepts(options[k], v):
            raise ScenarioError(f"task {name!r} option {k!r}: expected {options[k].type_name()}, found {v!r}",
                                where=f"task.{k}", hint=options[k].doc)


def get_task(name: str, **kwargs):
    """Build the task registered as ``name`` with keyword configuration.

    Args:
        name: a key of :data:`TASKS` (e.g. ``"twelve_ax"``, ``"dms"``, ``"neurogym"``).
        **kwargs: the task's documented options (see :func:`task_catalogue`).

    Raises:
        ScenarioError: unknown name (with the closest known one), an unknown option, a value of the
            wrong type, or a configuration the task rejects.
    """
    try:
        cls = TASKS[name]
    except (KeyError, TypeError):
        raise ScenarioError(f"unknown task {name!r}{did_you_mean(str(name), TASKS)}", where="task",
                            hint=f"known tasks: {', '.join(sorted(TASKS))}") from None
    options = getattr(cls, "options", None)
    if options is not None:
        check_options(name, options, kwargs)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # unexpected keyword of a class without `options`
        raise ScenarioError(f"bad options for task {name!r}: {exc}", where="task") from None


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def task_catalogue() -> List[Dict[str, Any]]:
    """Every registered task: ``[{name, doc, kind, input_dim, target_dim, options: [{name, type, default, doc}]}]``.

    ``kind`` is ``"jax"`` (generated on the device by jit + vmap), ``"numpy"`` or ``"neurogym"``.
    """
    out = []
    for name in sorted(TASKS):
        cls = TASKS[name]
        opts: Tuple = tuple((getattr(cls, "options", None) or {}).items())
        out.append({"name": name, "doc": _first_line(cls), "kind": getattr(cls, "kind", "numpy"),
                    "options": [{"name": k, "type": o.type_name(), "default": o.default, "doc": o.doc}
                                for k, o in opts]})
    return out
