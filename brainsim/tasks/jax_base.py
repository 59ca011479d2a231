"""JAX-native tasks: trials generated on the device by jit + vmap, each reproducible from (seed, index).

A :class:`JaxTask` writes ONE trial as a pure function of a key
(:meth:`JaxTask.trial`); :meth:`JaxTask.generate` vmaps it over trial indices
inside one jitted program, with trial ``i`` of stream ``seed`` always drawn
from ``fold_in(key(seed), i)``:

    batch = task.generate(seed=3, indices=jnp.arange(64))     # device arrays, time-major
    again = task.generate(seed=3, indices=jnp.array([17]))    # == trial 17 of the batch above

so any trial can be regenerated alone, a batch never round-trips through the
host, and the shapes depend only on the batch size (one compilation per size).
:meth:`JaxTask.stream` gives a training loop's ``batch_fn``: step ``s`` draws
trials ``s*B .. s*B+B-1`` of the stream, so a resumed run needs only the step
number.  :meth:`JaxTask.sample` (the :class:`~brainsim.tasks.base.Task`
interface) draws a stream seed from a numpy generator and returns trials
``0..B-1`` of that stream.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ScenarioError
from .base import Batch, Task

__all__ = ["JaxTask", "TrialData", "Draws", "trial_key"]


@dataclass(frozen=True)
class TrialData:
    """One trial, as :meth:`JaxTask.trial` returns it.

    Attributes:
        inputs: ``[T, input_dim]`` float32.
        targets: ``[T, target_dim]`` float32.
        mask: ``[T, 1]`` float32 (0 on padding).
        steps: per-step info ``{name: [T, ...]}`` (becomes ``[T, B, ...]`` in the batch).
        info: per-trial info ``{name: [...]}`` (becomes ``[B, ...]``).
    """

    inputs: jax.Array
    targets: jax.Array
    mask: jax.Array
    steps: Dict[str, jax.Array]
    info: Dict[str, jax.Array]


jax.tree_util.register_pytree_node(
    TrialData, lambda t: ((t.inputs, t.targets, t.mask, t.steps, t.info), None),
    lambda _, c: TrialData(*c))


class Draws:
    """All of a trial's random numbers, cut from ONE uniform draw per trial.

    :meth:`JaxTask.trial` takes a ``Draws`` and asks it for what it needs (``uniform``,
    ``randint``, ``bernoulli``, ``normal``, ``choice``); the draws are consecutive slices of one
    ``uniform(trial_key, (n,))`` array, so a trial costs one PRNG call (the PRNG dominates compile
    time on CPU).  ``n`` is found once per task by tracing :meth:`JaxTask.trial` with a counting
    ``Draws`` (``u=None``: every request returns placeholder values and only counts).
    """

    def __init__(self, u: Any = None):
        self.u, self.used = u, 0

    def uniform(self, shape: Tuple[int, ...] = ()) -> jax.Array:
        """float32 in (0, 1), ``shape``."""
        n = int(np.prod(shape, dtype=np.int64))
        out = jnp.full(shape, 0.5, jnp.float32) if self.u is None else self.u[self.used:self.used + n].reshape(shape)
        self.used += n
        return out

    def randint(self, shape: Tuple[int, ...], lo: Any, hi: Any) -> jax.Array:
        """int32 uniform on ``lo .. hi - 1`` (``lo``/``hi`` may be arrays broadcasting to ``shape``)."""
        lo, hi = jnp.asarray(lo, jnp.int32), jnp.asarray(hi, jnp.int32)
        k = jnp.floor(self.uniform(shape) * (hi - lo).astype(jnp.float32)).astype(jnp.int32)
        return lo + jnp.clip(k, 0, jnp.maximum(hi - lo - 1, 0))

    def bernoulli(self, p: float = 0.5, shape: Tuple[int, ...] = ()) -> jax.Array:
        """bool, True with probability ``p``."""
        return self.uniform(shape) < p

    def normal(self, shape: Tuple[int, ...]) -> jax.Array:
        """float32 standard normal (inverse CDF)."""
        return jax.scipy.special.ndtri(self.uniform(shape)).astype(jnp.float32)


def trial_key(seed: Any, index: Any) -> jax.Array:
    """The key of trial ``index`` of stream ``seed``: ``fold_in(key(seed), index)``."""
    return jax.random.fold_in(jax.random.key(seed), index)


def _check_int(value: Any, name: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ScenarioError(f"{name} must be an integer >= {lo}; got {value!r}", where=f"task.{name}")
    return int(value)


class JaxTask(Task):
    """Base of device-generated tasks.

    Subclasses set ``input_dim``, ``target_dim``, ``max_len`` (the padded ``T``), ``options``
    (``{name: TaskOption}``) and implement :meth:`trial`.  They must be hashable by identity
    (the default), since the jitted generator is cached per instance.
    """

    kind: ClassVar[str] = "jax"
    options: ClassVar[dict] = {}
    max_len: int

    def trial(self, draws: Draws) -> TrialData:  # pragma: no cover - abstract
        """One trial from its random numbers ``draws`` (pure; traced under jit and vmap)."""
        raise NotImplementedError

    @functools.cached_property
    def n_draws(self) -> int:
        """How many uniforms one trial uses (found by tracing :meth:`trial` once)."""
        counter = Draws()
        jax.eval_shape(lambda: self.trial(counter))
        return max(counter.used, 1)

    @functools.cached_property
    def _generate(self):
        n = self.n_draws
        tiny = float(np.finfo(np.float32).tiny)

        def one(seed, i):
            return self.trial(Draws(jax.random.uniform(trial_key(seed, i), (n,), jnp.float32, tiny, 1.0)))

        def gen(seed, indices):
            return jax.vmap(lambda i: one(seed, i), out_axes=TrialData(1, 1, 1, 1, 0))(indices)
        return jax.jit(gen)

    def generate(self, seed: Any, indices: Any) -> Batch:
        """Trials ``indices`` of stream ``seed`` as one batch of device arrays.

        Args:
            seed: int (or traced uint32 scalar): the stream.
            indices: int ``[B]`` trial indices.

        Returns:
            A :class:`Batch` with ``inputs [T, B, input_dim]``, ``targets [T, B, target_dim]``,
            ``mask [T, B, 1]`` (float32, on the device) and ``info``: the per-step arrays
            ``[T, B, ...]`` and per-trial arrays ``[B, ...]`` of the task.
        """
        idx = jnp.asarray(indices, jnp.uint32)
        if idx.ndim != 1 or idx.shape[0] < 1:
            raise ScenarioError(f"indices must be a non-empty 1-D array of trial indices; got shape {idx.shape}",
                                where="task.generate")
        td = self._generate(jnp.asarray(seed, jnp.uint32), idx)
        return Batch(inputs=td.inputs, targets=td.targets, mask=td.mask, info={**td.steps, **td.info})

    def stream(self, seed: int, batch: int):
        """``step -> Batch``: step ``s`` holds trials ``s*batch .. s*batch + batch - 1`` of stream ``seed``."""
        B = _check_int(batch, "batch")
        base = jnp.arange(B, dtype=jnp.uint32)
        return lambda step: self.generate(seed, base + jnp.uint32(int(step) * B))

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        """Draw a stream seed from ``rng`` and return trials ``0..batch-1`` of it (device arrays)."""
        if not isinstance(rng, np.random.Generator):
            raise ScenarioError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}",
                                hint="use numpy.random.default_rng(seed), or task.generate(seed, indices)")
        B = _check_int(batch, "batch")
        return self.generate(int(rng.integers(0, 2**31 - 1)), jnp.arange(B, dtype=jnp.uint32))

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.options if hasattr(self, k))
        return f"{type(self).__name__}({opts})"


def one_hot(i: jax.Array, n: int) -> jax.Array:
    """float32 one-hot of ``i`` over ``n`` classes (all zeros for ``i < 0`` or ``i >= n``)."""
    return jax.nn.one_hot(i, n, dtype=jnp.float32)


def padded(mask_t: jax.Array) -> jax.Array:
    """``[T] bool -> [T, 1] float32`` mask."""
    return mask_t.astype(jnp.float32)[:, None]


def range_option(value: Any, name: str, lo: int = 0) -> Tuple[int, int]:
    """An int or a ``(lo, hi)`` pair -> ``(lo, hi)`` ints, checked."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
            and lo <= value[0] <= value[1]):
        raise ScenarioError(f"{name} must be an int >= {lo} or a (lo, hi) pair with {lo} <= lo <= hi; got {value!r}",
                            where=f"task.{name}")
    return int(value[0]), int(value[1])
