"""Plugins: areas, rules, cost terms, tasks and scenarios from other packages register like built-ins.

Three ways to bring user code in, all of which simply *import a module* whose import registers things
(``@brainsim.register_area("name")``, ``@brainsim.rules.register_rule("name")``, :func:`register_cost`,
``@brainsim.tasks.register_task("name")``, a module defining ``SCENARIO``):

1. **Entry points** of an installed package, one group per kind (:data:`GROUPS`)::

       [project.entry-points."brainsim.areas"]      mine = "my_pkg.areas"
       [project.entry-points."brainsim.rules"]      mine = "my_pkg.rules"
       [project.entry-points."brainsim.costs"]      mine = "my_pkg.costs"
       [project.entry-points."brainsim.tasks"]      mine = "my_pkg.tasks"
       [project.entry-points."brainsim.scenarios"]  my_scenario = "my_pkg.my_scenario"   # name = module with SCENARIO

   Every group but ``brainsim.scenarios`` is imported once, on first use (:func:`load_plugins`: when a
   wiring is validated, a scenario is looked up, or ``brainsim list`` runs).  A scenario entry point's
   *name* is the scenario's name (``brainsim run my_scenario``); its module is imported when it runs.
2. **``imports:``** in a wiring file: a list of module names (``my_pkg.areas``) or ``.py`` paths
   relative to the wiring file (``my_areas.py``), imported before the wiring is checked.
3. **``--import MODULE``** on any ``brainsim`` command (a module name or a ``.py`` path; repeatable).

A module that fails to import is a :class:`PluginError` naming where it was asked for (the entry
point and its package, the wiring file's ``line:col``, or the ``--import`` flag) and the exception.

This module imports nothing of brainsim above the area/costs/rules layer.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

from .errors import BrainsimError

#: kind -> entry-point group
GROUPS = {"areas": "brainsim.areas", "rules": "brainsim.rules", "costs": "brainsim.costs",
          "tasks": "brainsim.tasks", "scenarios": "brainsim.scenarios"}

_state = {"loaded": False}
_imported: dict[str, Any] = {}  # what import_module_or_path imported: resolved path or name -> module


class PluginError(BrainsimError):
    """A plugin module cannot be found or fails to import."""


# --------------------------------------------------------------------------- entry points

def entry_points(kind: str) -> list:
    """The entry points of one kind (``"areas"``, ``"rules"``, ...), de-duplicated, sorted by name."""
    try:
        eps = importlib.metadata.entry_points(group=GROUPS[kind])
    except Exception:  # noqa: BLE001 — broken metadata of some installed distribution: no plugins from it
        return []
    return sorted({(ep.name, ep.value): ep for ep in eps}.values(), key=lambda ep: (ep.name, ep.value))


def _describe(ep) -> str:
    dist = getattr(getattr(ep, "dist", None), "name", None)
    return f"entry point '{ep.name} = {ep.value}' (group '{ep.group}'{f', package {dist}' if dist else ''})"


def load_plugins() -> None:
    """Import every plugin module declared by entry points (areas, rules, costs, tasks), once.

    Scenario entry points are not imported here (see :func:`scenario_entry_points`).

    Raises:
        PluginError / AreaError: a plugin module failed to import (named with its entry point).
    """
    if _state["loaded"]:
        return
    _state["loaded"] = True
    try:
        from .area import load_catalogues

        load_catalogues()  # the group brainsim.areas, and the built-in catalogue
        for kind in ("rules", "costs", "tasks"):
            for ep in entry_points(kind):
                try:
                    ep.load()
                except Exception as e:  # noqa: BLE001 — a third party's bug, reported with its origin
                    raise PluginError(f"{_describe(ep)} failed to load: {type(e).__name__}: {e}",
                                      hint="fix or uninstall the package that declares it") from e
    except BaseException:
        _state["loaded"] = False  # the next call tries (and reports) again
        raise


def scenario_entry_points() -> dict:
    """``{scenario name: entry point}`` of the group ``brainsim.scenarios`` (the value: a module with
    ``SCENARIO``, or ``module:attribute`` naming a Scenario instance)."""
    return {ep.name: ep for ep in entry_points("scenarios")}


def load_scenario_entry_point(name: str) -> Any:
    """Import a scenario entry point: the module (or the ``module:attribute`` object) it names.

    Raises:
        PluginError: it fails to import.
    """
    ep = scenario_entry_points()[name]
    try:
        return ep.load()
    except Exception as e:  # noqa: BLE001
        raise PluginError(f"scenario {_describe(ep)} failed to load: {type(e).__name__}: {e}",
                          hint="fix or uninstall the package that declares it") from e


# --------------------------------------------------------------------------- imports: and --import

def import_module_or_path(spec: str, base: "str | Path | None" = None, where: Any = None) -> Any:
    """Import a plugin module by name (``my_pkg.areas``) or by ``.py`` path (relative to ``base``).

    A path is imported once per resolved file (a second wiring naming it gets the same module).

    Args:
        spec: a dotted module name, or a path ending in ``.py``.
        base: the directory relative paths are resolved against (the wiring file's; default: the cwd).
        where: the location for messages (a :class:`~brainsim.errors.Location` or a flag name).

    Raises:
        PluginError: no such module or file, or it raised while importing.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(f"a plugin import must be a module name or a .py path, found {spec!r}", where,
                          hint="e.g. imports: [my_package.areas, ./my_area.py]")
    spec = spec.strip()
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        return _import_path(spec, base, where)
    if spec in _imported:
        return _imported[spec]
    try:
        module = importlib.import_module(spec)
    except ModuleNotFoundError as e:
        if e.name is not None and spec.startswith(e.name):
            raise PluginError(f"no module named '{spec}' to import", where,
                              hint="install the package that provides it, or give a path to a .py file "
                                   "(relative to the wiring file)") from None
        raise PluginError(f"plugin module '{spec}' failed to import: {type(e).__name__}: {e}", where) from e
    except BrainsimError:
        raise
    except Exception as e:  # noqa: BLE001
        raise PluginError(f"plugin module '{spec}' failed to import: {type(e).__name__}: {e}", where,
                          hint="fix the module (run `python -c 'import " + spec + "'` to see the traceback)") from e
    _imported[spec] = module
    return module


def _import_path(spec: str, base: "str | Path | None", where: Any) -> Any:
    path = Path(spec)
    if not path.is_absolute():
        path = Path(base if base is not None else ".") / path
    path = path.resolve()
    key = str(path)
    if key in _imported:
        return _imported[key]
    if path.suffix != ".py" or not path.is_file():
        raise PluginError(f"plugin file '{spec}' does not exist (looked for {path.name} in "
                          f"{'the wiring file’s directory' if base is not None else 'the current directory'})",
                          where, hint="paths in `imports:` are relative to the wiring file")
    name = f"_brainsim_plugin_{path.stem}_{abs(hash(key)) % 10**8}"
    mspec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(mspec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        mspec.loader.exec_module(module)
    except BrainsimError:
        sys.modules.pop(name, None)
        raise
    except Exception as e:  # noqa: BLE001
        sys.modules.pop(name, None)
        raise PluginError(f"plugin file '{spec}' failed to import: {type(e).__name__}: {e}", where,
                          hint=f"run `python {path.name}` to see the traceback") from e
    _imported[key] = module
    return module


def import_all(specs: Iterable[str], base: "str | Path | None" = None,
               where: Optional[Callable[[int], Any]] = None) -> list:
    """Import several plugin modules (``where(i)``: the location of item ``i``)."""
    return [import_module_or_path(s, base, where(i) if where else None) for i, s in enumerate(specs)]


# --------------------------------------------------------------------------- registering rules and cost terms

def register_cost(name: str, options: Iterable[str] = ()) -> Callable:
    """Decorator: make a cost function usable on any area as ``costs: {name: ...}``.

    The function has the generic-term signature ``fn(area, module, ctx) -> scalar | (num, den)``
    (see :mod:`brainsim.costs`); ``options`` are the names it reads from ``ctx.options`` (besides
    ``weight`` and ``schedule``), or ``{name: one-line doc}`` (shown by ``brainsim list NAME``).
    """
    from . import costs

    def deco(fn: Callable) -> Callable:
        old = costs.GENERIC_TERMS.get(name)
        if old is not None and getattr(old, "__qualname__", None) != getattr(fn, "__qualname__", None):
            raise PluginError(f"cost term '{name}' is registered twice ({old.__module__} and {fn.__module__})",
                              hint="give one of them another name")
        costs.GENERIC_TERMS[name] = fn
        costs.GENERIC_OPTIONS[name] = tuple(options)
        if isinstance(options, Mapping):
            fn.option_docs = dict(options)
        return fn

    return deco


def rule_registry() -> dict:
    """The rules registry (``name -> rule``): the one place that knows where :mod:`brainsim.rules` keeps it."""
    from . import rules

    for attr in ("RULES", "REGISTRY", "_REGISTRY"):
        reg = getattr(rules, attr, None)
        if isinstance(reg, dict):
            return reg
    raise PluginError("brainsim.rules has no rule registry (RULES)")  # pragma: no cover
