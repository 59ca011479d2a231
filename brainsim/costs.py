"""Cost terms and their weight schedules (H2: diverse, changing cost functions).

A cost term is a pure function of one area's inputs, outputs, state, params and
targets for **one sample at one step**::

    term(area, module, ctx: StepContext) -> scalar | (numerator, denominator)

The brain sums it over time and batch: a scalar is averaged over every step and
sample; a ``(num, den)`` pair (e.g. a masked loss) gives ``sum(num) / sum(den)``.

Generic terms, usable on any area, live here (``supervised``, ``activity_l1``,
``activity_l2``, ``weight_l2``); area-specific ones (``reconstruction``, ``td``,
…) are methods of the area (:meth:`brainsim.area.Area.cost`).

In a wiring file::

    costs:
      supervised: {weight: 1.0, target: target, loss: cross_entropy, mask: mask}
      activity_l1: {weight: 0.01, port: code,
                    schedule: {linear_schedule: {init_value: 0.0, end_value: 1.0, transition_steps: 500}}}
      reconstruction: 1.0          # shorthand for {weight: 1.0}

The effective weight at training step ``s`` is ``weight * schedule(s)`` where
``schedule`` is any optax schedule (default: constant 1).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from .errors import WiringError, did_you_mean

Schedule = Callable[[Any], Any]


@dataclass(frozen=True)
class CostSpec:
    """One cost term of one area, as declared in the wiring.

    Attributes:
        name: the term ("supervised", "reconstruction", …).
        weight: the base weight.
        schedule: ``(optax schedule name, ((kwarg, value), …))`` or ``None``.
        options: the remaining options (``target``, ``port``, …), as sorted pairs.
    """

    name: str
    weight: float = 1.0
    schedule: Any = None
    options: tuple = ()

    def weight_at(self, step) -> Any:
        """The effective weight at training step ``step`` (traceable)."""
        if self.schedule is None:
            return jnp.asarray(self.weight, jnp.float32)
        name, kwargs = self.schedule
        return self.weight * make_schedule(name, dict(kwargs))(step)

    @property
    def opts(self) -> dict:
        return dict(self.options)


def make_schedule(name: str, kwargs: Mapping[str, Any], where: Any = None) -> Schedule:
    """Build an optax schedule by name, with a clear error on bad names or arguments."""
    fn = getattr(optax.schedules, name, None) if hasattr(optax, "schedules") else None
    fn = fn or getattr(optax, name, None)
    if fn is None or not callable(fn) or not (name.endswith("schedule") or name.endswith("decay")) \
            or name.startswith("_"):
        known = [n for n in dir(optax.schedules) if (n.endswith("schedule") or n.endswith("decay"))
                 and not n.startswith("_") and callable(getattr(optax.schedules, n))]
        raise WiringError(f"unknown schedule '{name}'{did_you_mean(name, known)}", where,
                          hint="schedules: " + ", ".join(sorted(known)))
    kwargs = _schedule_kwargs(kwargs)
    _check_kwargs(fn, kwargs, f"schedule '{name}'", where)
    for k, v in kwargs.items():
        for x in (v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(x, float) and not math.isfinite(x):
                raise WiringError(f"schedule '{name}': {k} must be finite, found {x!r}", where,
                                  hint="NaN and infinity are not valid schedule arguments")
    try:
        return fn(**kwargs)
    except Exception as e:  # optax validates some arguments eagerly (types, lengths)
        raise WiringError(f"schedule '{name}': invalid arguments: {type(e).__name__}: {e}", where,
                          hint=f"arguments: {', '.join(inspect.signature(fn).parameters)}") from None


# the steps a schedule is evaluated at when checked (training may reach any of them)
CHECK_STEPS = (0, 1, 2, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


def _schedule_kwargs(kwargs: Mapping[str, Any]) -> dict:
    """Thaw frozen mappings, and make integer-looking mapping keys integers again (YAML mapping keys
    become strings in a wiring: ``boundaries_and_scales: {1000: 0.1}`` -> ``{1000: 0.1}``)."""
    def thaw(v):
        if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return {(int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k): thaw(x) for k, x in v}
        if isinstance(v, dict):
            return {(int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k): thaw(x) for k, x in v.items()}
        return v

    return {k: thaw(v) for k, v in dict(kwargs).items()}


def check_schedule(name: str, kwargs: Mapping[str, Any], where: Any = None, *, nonnegative: bool = False) -> None:
    """Build a schedule and evaluate it over the steps training may reach (:data:`CHECK_STEPS`): it
    must be finite everywhere (and ``>= 0`` with ``nonnegative``, e.g. a learning rate); any failure
    is a :class:`WiringError`."""
    fn = make_schedule(name, kwargs, where)
    try:
        values = [float(jnp.asarray(fn(s))) for s in CHECK_STEPS]
    except Exception as e:
        raise WiringError(f"schedule '{name}' cannot be evaluated with these arguments: "
                          f"{type(e).__name__}: {str(e)[:300]}", where,
                          hint="schedule arguments are numbers, e.g. {init_value: 0.0, end_value: 1.0, "
                               "transition_steps: 100}") from None
    for s, v in zip(CHECK_STEPS, values):
        if not math.isfinite(v):
            raise WiringError(f"schedule '{name}' gives {v} at step {s:,}", where,
                              hint="use arguments that keep it finite at every step (e.g. a decay rate in (0, 1])")
        if nonnegative and v < 0:
            raise WiringError(f"schedule '{name}' gives {v} at step {s:,}; a learning rate must be >= 0", where,
                              hint="a negative learning rate climbs the cost")


def _check_kwargs(fn: Callable, kwargs: Mapping[str, Any], what: str, where: Any) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover
        return
    params = sig.parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        for k in kwargs:
            if k not in params:
                raise WiringError(f"{what} has no argument '{k}'{did_you_mean(k, params)}", where,
                                  hint=f"arguments: {', '.join(params)}")
    missing = [n for n, p in params.items() if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in kwargs]
    if missing:
        raise WiringError(f"{what} needs argument(s) {', '.join(missing)}", where,
                          hint=f"write e.g. {{{missing[0]}: ...}}")
    try:
        sig.bind(**kwargs)
    except TypeError as e:  # pragma: no cover - covered by the checks above
        raise WiringError(f"{what}: {e}", where) from None


# --------------------------------------------------------------------------- generic terms

def _opt(ctx, key, default=None):
    return ctx.options.get(key, default)


def supervised(area, module, ctx):
    """Supervised error of an output port against an external target.

    Options: ``target`` (external input name, required), ``port`` (default: the
    area's first output), ``loss`` (``mse`` default, or ``cross_entropy`` with a
    one-hot target), ``mask`` (external input of dim 1 weighting the steps).
    """
    port = _opt(ctx, "port") or next(iter(area.outputs))
    y = ctx.outputs[port]
    t = ctx.targets[_opt(ctx, "target")]
    if _opt(ctx, "loss", "mse") == "cross_entropy":
        loss = optax.softmax_cross_entropy(y, t)
    else:
        loss = 0.5 * jnp.mean(jnp.square(y - t))
    mask_name = _opt(ctx, "mask")
    if mask_name is None:
        return loss
    m = jnp.reshape(ctx.targets[mask_name], ())
    return loss * m, m


def activity_l1(area, module, ctx):
    """Mean absolute activity of a port (option ``port``, default first output): a sparsity cost."""
    port = _opt(ctx, "port") or next(iter(area.outputs))
    return jnp.mean(jnp.abs(ctx.outputs[port]))


def activity_l2(area, module, ctx):
    """Mean squared activity of a port (option ``port``): an energy cost."""
    port = _opt(ctx, "port") or next(iter(area.outputs))
    return jnp.mean(jnp.square(ctx.outputs[port]))


def weight_l2(area, module, ctx):
    """Half the sum of squares of the area's learnable weights (weight decay)."""
    from flax import nnx

    if module is None:
        return jnp.zeros(())
    learned = nnx.state(module, nnx.Param)
    return 0.5 * sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(learned))


GENERIC_TERMS: dict[str, Callable] = {
    "supervised": supervised,
    "activity_l1": activity_l1,
    "activity_l2": activity_l2,
    "weight_l2": weight_l2,
}

#: options each generic term accepts (besides weight and schedule)
GENERIC_OPTIONS: dict[str, tuple[str, ...]] = {
    "supervised": ("target", "port", "loss", "mask"),
    "activity_l1": ("port",),
    "activity_l2": ("port",),
    "weight_l2": (),
}

#: options whose value names an external input (checked by the graph)
TARGET_OPTIONS = ("target", "mask")


def area_term(name: str) -> Callable:
    """A cost term implemented by the area itself (``Area.cost``)."""

    def term(area, module, ctx):
        return area.cost(name, module, ctx)

    term.__name__ = name
    return term


def resolve_term(area_cls, spec: CostSpec, where: Any = None) -> Callable:
    """The function computing ``spec`` for areas of ``area_cls`` (area terms win over generic ones)."""
    if spec.name in area_cls.cost_terms:
        fn = area_term(spec.name)
        # an area term takes only the options its class declares in ``cost_options = {term: (option, ...)}``
        allowed = tuple(getattr(area_cls, "cost_options", {}).get(spec.name, ()))
        for k, _ in spec.options:
            if k not in allowed:
                raise WiringError(f"cost term '{spec.name}' of area type '{area_cls.type_name}' has no option "
                                  f"'{k}'{did_you_mean(k, ('weight', 'schedule') + allowed)}", where,
                                  hint="options: " + ", ".join(("weight", "schedule") + allowed))
    elif spec.name in GENERIC_TERMS:
        fn = GENERIC_TERMS[spec.name]
        allowed = GENERIC_OPTIONS[spec.name]
        for k, _ in spec.options:
            if k not in allowed:
                raise WiringError(f"cost term '{spec.name}' has no option '{k}'"
                                  f"{did_you_mean(k, ('weight', 'schedule') + allowed)}", where,
                                  hint=f"options: weight, schedule, {', '.join(allowed)}")
        if spec.name == "supervised" and not isinstance(spec.opts.get("target"), str):
            raise WiringError("cost term 'supervised' needs a 'target' (the external input holding the target)",
                              where, hint="write supervised: {weight: 1.0, target: target}")
    else:
        known = list(area_cls.cost_terms) + list(GENERIC_TERMS)
        raise WiringError(f"area type '{area_cls.type_name}' has no cost term '{spec.name}'{did_you_mean(spec.name, known)}",
                          where, hint="cost terms: " + ", ".join(known))
    return _with_options(fn, spec.options)


def _with_options(fn: Callable, options: tuple) -> Callable:
    def term(area, module, ctx):
        return fn(area, module, ctx)

    term.options = dict(options)
    term.__name__ = getattr(fn, "__name__", "term")
    return term


def reduce_cost(values) -> tuple[Any, Any]:
    """Normalise a term's value to ``(numerator, denominator)`` scalars."""
    if isinstance(values, tuple):
        num, den = values
        return jnp.asarray(num, jnp.float32), jnp.asarray(den, jnp.float32)
    return jnp.asarray(values, jnp.float32), jnp.ones((), jnp.float32)
