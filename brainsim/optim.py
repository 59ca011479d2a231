"""Per-area optax optimisers named in YAML.

``optimizer: {adam: {learning_rate: 1.0e-3}}`` or a list (an ``optax.chain``)::

    optimizer:
      - clip_by_global_norm: {max_norm: 1.0}
      - adam: {learning_rate: {exponential_decay: {init_value: 1.0e-3, transition_steps: 1000, decay_rate: 0.5}}}

A ``learning_rate`` may itself be an optax schedule given as ``{name: kwargs}``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Mapping

import optax

from .costs import _check_kwargs, check_schedule, make_schedule
from .errors import WiringError, did_you_mean

_NOT_OPTIMIZERS = {"chain", "named_chain", "masked", "multi_transform", "inject_hyperparams", "apply_if_finite",
                   "MultiSteps", "flatten", "with_extra_args_support", "identity", "set_to_zero", "stateless",
                   "stateless_with_tree_map", "GradientTransformation", "GradientTransformationExtraArgs"}


def optimizer_names() -> list[str]:
    """Names of optax factories usable in a wiring's ``optimizer``."""
    out = []
    for n in dir(optax):
        if n.startswith("_") or n in _NOT_OPTIMIZERS or n[0].isupper():
            continue
        f = getattr(optax, n)
        if not callable(f) or n.endswith("schedule") or n.endswith("decay") or n.endswith("loss") \
                or "cross_entropy" in n or n.startswith(("tree_", "safe_", "global_norm", "apply_updates",
                                                        "incremental_update", "periodic_update", "softmax",
                                                        "l2_loss", "huber", "cosine_", "squared_", "sigmoid",
                                                        "smooth_", "log_", "hinge", "ctc", "kl_", "poly_",
                                                        "convex_", "ntxent", "power_iteration", "matrix_",
                                                        "multiclass", "triplet", "make_", "hessian", "contrib",
                                                        "projections", "losses", "schedules", "tree", "assignment",
                                                        "perturbations", "second_order", "transforms")):
            continue
        out.append(n)
    return sorted(out)


def _resolve_kwargs(kwargs: Mapping[str, Any], where: Any) -> dict:
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, Mapping) and len(v) == 1:  # a schedule
            (sname, skw), = v.items()
            if skw is not None and not isinstance(skw, Mapping):
                raise WiringError(f"the arguments of schedule '{sname}' (for '{k}') must be a mapping, found "
                                  f"{type(skw).__name__} {skw!r}", where,
                                  hint=f"e.g. {k}: {{exponential_decay: {{init_value: 1.0e-3, "
                                       f"transition_steps: 1000, decay_rate: 0.5}}}}")
            if where is not None:
                check_schedule(sname, dict(skw or {}), where, nonnegative=(k == "learning_rate"))
            out[k] = make_schedule(sname, dict(skw or {}), where)
        else:
            out[k] = v
    return out


_CHECKED: set = set()  # (name, repr(kwargs)) already checked (the tiny-pytree test costs a few ms)


def check_optimizer(name: str, kwargs: Mapping[str, Any], where: Any = None) -> None:
    """Raise a WiringError unless ``optax.<name>(**kwargs)`` is a gradient transformation brainsim can
    train with: its arguments are finite (a learning rate ``>= 0``, a schedule finite and ``>= 0`` at
    every step checked), and it initialises and updates a tiny pytree."""
    key = (name, repr(sorted((str(k), repr(v)) for k, v in dict(kwargs).items())))
    if key in _CHECKED:
        return
    _check_optimizer(name, kwargs, where)
    _CHECKED.add(key)


def _check_optimizer(name: str, kwargs: Mapping[str, Any], where: Any = None) -> None:
    names = optimizer_names()
    if name not in names:
        raise WiringError(f"unknown optimizer '{name}'{did_you_mean(name, names)}", where,
                          hint="e.g. adam, sgd, adamw, rmsprop, clip_by_global_norm (any optax transform)")
    fn = getattr(optax, name)
    resolved = _resolve_kwargs(kwargs, where)
    _check_kwargs(fn, resolved, f"optimizer '{name}'", where)
    params = inspect.signature(fn).parameters
    for k, v in resolved.items():
        if k == "learning_rate" and not callable(v) and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise WiringError(f"optimizer '{name}': learning_rate must be a number or a schedule, found {v!r}", where,
                              hint=_number_hint(v))
        if isinstance(v, float) and not math.isfinite(v):
            raise WiringError(f"optimizer '{name}': {k} must be a finite number, found {v!r}", where,
                              hint="NaN and infinity are not valid optimizer arguments")
        if k == "learning_rate" and not callable(v) and v < 0:
            raise WiringError(f"optimizer '{name}': learning_rate must be >= 0, found {v!r}", where,
                              hint="a negative learning rate climbs the cost; optax descends the gradient already")
        default = params[k].default if k in params else None
        if isinstance(default, bool) and not isinstance(v, bool):
            raise WiringError(f"optimizer '{name}': {k} must be true or false, found {v!r}", where,
                              hint=f"signature: {name}{optimizer_signature(name)}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and \
                (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise WiringError(f"optimizer '{name}': {k} must be a number (default {default}), found {v!r}", where,
                              hint=_number_hint(v) or f"e.g. {k}: {default}")
    try:
        tx = fn(**resolved)
    except Exception as e:  # optax checks some arguments when the transform is built
        raise WiringError(f"optimizer '{name}': invalid arguments: {type(e).__name__}: {str(e)[:300]}", where,
                          hint=f"signature: {name}{optimizer_signature(name)}") from None
    _check_transform(name, tx, where)


def _check_transform(name: str, tx: Any, where: Any) -> None:
    """Initialise ``tx`` and run one update on a tiny pytree, as training will: a transform that
    needs what brainsim does not give (extra update arguments such as ``value_fn``), or that is
    not an optimiser at all, is a :class:`WiringError` now rather than a crash in ``train_step``."""
    import jax.numpy as jnp

    if not (hasattr(tx, "init") and hasattr(tx, "update")):
        raise WiringError(f"'{name}' is not an optimizer (optax.{name}(...) returns {type(tx).__name__}, not a "
                          "gradient transformation)", where, hint="e.g. adam, sgd, adamw, rmsprop, clip_by_global_norm")
    params = {"w": jnp.ones((2, 3), jnp.float32), "b": jnp.zeros((3,), jnp.float32)}
    grads = {"w": jnp.full((2, 3), 0.1, jnp.float32), "b": jnp.full((3,), -0.1, jnp.float32)}
    try:
        state = tx.init(params)
        updates, _ = tx.update(grads, state, params)
    except TypeError as e:
        raise WiringError(f"optimizer '{name}' cannot be used as an area optimizer: its update needs arguments "
                          f"brainsim does not pass ({str(e)[:200]})", where,
                          hint="brainsim calls update(gradients, state, params); use adam, sgd, adamw, rmsprop, "
                               "... (optimizers such as lbfgs or polyak_sgd need the loss value itself)") from None
    except Exception as e:  # noqa: BLE001 — any failure on a tiny pytree would fail in training too
        raise WiringError(f"optimizer '{name}' fails on a small test pytree: {type(e).__name__}: {str(e)[:300]}",
                          where, hint=f"signature: {name}{optimizer_signature(name)}") from None
    leaves = [jnp.asarray(u) for u in (updates.values() if isinstance(updates, dict) else [])]
    if len(leaves) != 2 or any(u.shape != params[k].shape for k, u in zip(updates, leaves)):
        raise WiringError(f"optimizer '{name}' does not return updates shaped like the parameters", where,
                          hint="use a gradient transformation such as adam or sgd")
    if not all(bool(jnp.all(jnp.isfinite(u))) for u in leaves):
        raise WiringError(f"optimizer '{name}' gives non-finite updates on a small test pytree with these "
                          "arguments", where, hint="check its numeric arguments")


def _number_hint(v: Any) -> "str | None":
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return None
        return f"YAML reads '{v}' as a string; write exponents with a dot, e.g. 1.0e-3"
    return None


def _thaw(v):
    if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in v):
        return {k: _thaw(x) for k, x in v}
    return v


def make_optimizer(chain: tuple) -> optax.GradientTransformation:
    """Build the optax transform of an area from its frozen ``((name, kwargs), …)`` chain."""
    parts = []
    for name, kwargs in chain:
        kw = _thaw(kwargs) if kwargs else {}
        parts.append(getattr(optax, name)(**_resolve_kwargs(kw if isinstance(kw, dict) else {}, None)))
    return parts[0] if len(parts) == 1 else optax.chain(*parts)


def optimizer_signature(name: str) -> str:
    return str(inspect.signature(getattr(optax, name)))
