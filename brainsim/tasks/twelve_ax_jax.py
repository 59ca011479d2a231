"""12-AX generated on the device (jit + vmap): the same task as :mod:`brainsim.tasks.twelve_ax`.

Same symbols, statistics, rule, padding and ``info`` arrays (``symbols``,
``target_idx`` ``[T, B]``, ``lengths`` ``[B]``) as the numpy
:class:`~brainsim.tasks.twelve_ax.TwelveAX`, so :func:`epoch_errors` and
:func:`per_symbol_accuracy` apply; the draws differ (JAX keys, not a numpy
stream): epoch ``i`` of stream ``seed`` is a pure function of
``fold_in(key(seed), i)``.

One epoch: draw ``outer_loops`` digits, ``outer_loops`` inner-loop counts
(1-4) and ``outer_loops x 4`` pairs (only the first ``count`` of each outer loop
are used), then scatter them to their positions (cumulative sums of the outer
loops' lengths ``1 + 2 * count``): no loop over time.
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import numpy as np

from ..errors import ScenarioError
from .jax_base import Draws, JaxTask, TrialData, _check_int, one_hot, padded
from .registry import TaskOption, register_task
from .twelve_ax import PAIR_PROBS, PAIRS, SYMBOLS, TARGET_NAMES

__all__ = ["TwelveAXJax"]

_FIRST = np.array([SYMBOLS.index(p[0]) for p in PAIRS], np.int32)
_SECOND = np.array([SYMBOLS.index(p[1]) for p in PAIRS], np.int32)
_CDF = np.cumsum(np.asarray(PAIR_PROBS) / np.sum(PAIR_PROBS)).astype(np.float32)[:-1]  # inverse-CDF draw


@register_task("twelve_ax_jax")
class TwelveAXJax(JaxTask):
    """12-AX (O'Reilly & Frank 2006), generated on the device; one epoch per batch element."""

    options = {
        "outer_loops": TaskOption(int, 25, "outer loops per epoch (the paper: 25)"),
        "max_len": TaskOption((int, type(None)), None, "padded length T (default outer_loops * 9, the longest epoch)"),
    }
    input_dim = len(SYMBOLS)
    target_dim = len(TARGET_NAMES)

    def __init__(self, outer_loops: int = 25, max_len: Optional[int] = None):
        self.outer_loops = _check_int(outer_loops, "outer_loops")
        longest = 9 * self.outer_loops
        self.max_len = longest if max_len is None else _check_int(max_len, "max_len")
        if self.max_len < longest:
            raise ScenarioError(f"max_len={self.max_len} is shorter than the longest possible epoch ({longest} steps)",
                                where="task.max_len", hint=f"leave max_len unset or set it >= {longest}")

    def trial(self, d: Draws):
        K, T = self.outer_loops, self.max_len
        digit = d.randint((K,), 0, 2)  # 0 -> "1", 1 -> "2"
        count = d.randint((K,), 1, 5)
        pair = jnp.searchsorted(jnp.asarray(_CDF), d.uniform((K, 4)), side="right")
        outer_len = 1 + 2 * count
        start = jnp.cumsum(outer_len) - outer_len
        used = jnp.arange(4)[None, :] < count[:, None]  # [K, 4]
        pos = jnp.where(used, start[:, None] + 1 + 2 * jnp.arange(4)[None, :], T)  # T = dropped
        is_r = ((pair == 0) & (digit[:, None] == 0)) | ((pair == 1) & (digit[:, None] == 1))
        sym = jnp.full((T,), -1, jnp.int32).at[start].set(digit)
        sym = sym.at[pos].set(jnp.asarray(_FIRST)[pair], mode="drop").at[pos + 1].set(jnp.asarray(_SECOND)[pair],
                                                                                       mode="drop")
        length = jnp.sum(outer_len)
        valid = jnp.arange(T) < length
        tgt = jnp.where(valid, 0, -1).at[pos + 1].set(is_r.astype(jnp.int32), mode="drop")
        return TrialData(one_hot(sym, self.input_dim), one_hot(tgt, self.target_dim), padded(valid),
                         {"symbols": sym, "target_idx": tgt}, {"lengths": length.astype(jnp.int32)})
