"""Context-free languages for stack areas: a^n b^n and Dyck-2, as next-symbol-set prediction.

The protocol of Suzgun et al. (2019) and of the Chomsky-hierarchy suite
(Delétang et al. 2023): train on short strings, test on longer ones.  A
string is fed one symbol per step; after each symbol the brain predicts the
**set of symbols that may come next** (a multi-hot target over
``SYMBOLS + END``); a string counts as correct only if every step's set is
right (each output thresholded at 0.5).  This target is deterministic for
both languages, so accuracy needs the whole nested structure:

* ``anbn`` — a^n b^n (n >= 1).  While reading a's: {a, b}; after the k-th b
  (k < n): {b}; after the n-th b: {END}.  Needs a counter (a stack of a's).
* ``dyck2`` — balanced strings of n pairs of two bracket types ``( ) [ ]``.
  After each prefix: both openers are allowed, plus the closer of the most
  recent unmatched opener if there is one, else END.  Needs a stack.

Alphabet (inputs, one-hot): ``a ( , b ) , [ , ]`` share four input lines:
index 0 = ``a``/``(``, 1 = ``b``/``)``, 2 = ``[``, 3 = ``]``; targets add
index 4 = END.  Padding steps are zero with mask 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ScenarioError
from .base import Batch, Task

N_IN, N_OUT, END = 4, 5, 4
OPEN_OF = {1: 0, 3: 2}  # closer -> its opener (dyck2)
CLOSE_OF = {0: 1, 2: 3}


def anbn_string(n: int) -> list[int]:
    """``a^n b^n`` as symbol indices (a = 0, b = 1)."""
    return [0] * n + [1] * n


def anbn_targets(symbols: Sequence[int]) -> np.ndarray:
    """``[len, 5]`` multi-hot sets of allowed next symbols after each prefix of an a^n b^n string."""
    out = np.zeros((len(symbols), N_OUT), np.float32)
    n_a = n_b = 0
    for t, s in enumerate(symbols):
        if s == 0:
            n_a += 1
            out[t, [0, 1]] = 1.0
        else:
            n_b += 1
            out[t, 1 if n_b < n_a else END] = 1.0
    return out


def dyck2_string(rng: np.random.Generator, n: int) -> list[int]:
    """A random balanced Dyck-2 string of ``n`` bracket pairs: at each step open (p = 1/2) unless forced."""
    stack, out, opened = [], [], 0
    while len(out) < 2 * n:
        can_open, can_close = opened < n, bool(stack)
        if can_open and (not can_close or rng.random() < 0.5):
            o = int(rng.choice((0, 2)))
            stack.append(o)
            out.append(o)
            opened += 1
        else:
            out.append(CLOSE_OF[stack.pop()])
    return out


def dyck2_targets(symbols: Sequence[int]) -> np.ndarray:
    """``[len, 5]`` allowed next symbols after each prefix: both openers + (top's closer or END)."""
    out = np.zeros((len(symbols), N_OUT), np.float32)
    stack = []
    for t, s in enumerate(symbols):
        if s in CLOSE_OF:
            stack.append(s)
        else:
            if not stack or stack[-1] != OPEN_OF[s]:
                raise ScenarioError(f"not a Dyck-2 prefix: closer {s} at position {t}")
            stack.pop()
        out[t, [0, 2]] = 1.0
        out[t, CLOSE_OF[stack[-1]] if stack else END] = 1.0
    return out


class ContextFree(Task):
    """Strings of a context-free language with n drawn uniformly from ``[n_min, n_max]``.

    Args:
        language: ``"anbn"`` or ``"dyck2"``.
        n_min, n_max: range of n (a^n b^n: n; Dyck-2: pairs); strings have 2n symbols.
        max_len: padded length T (default ``2 * n_max``).
    """

    input_dim, target_dim = N_IN, N_OUT

    def __init__(self, language: str = "anbn", n_min: int = 1, n_max: int = 20, max_len: "int | None" = None):
        if language not in ("anbn", "dyck2"):
            raise ScenarioError(f"unknown language {language!r}", "task.language", hint="anbn or dyck2")
        if not 1 <= n_min <= n_max:
            raise ScenarioError(f"need 1 <= n_min <= n_max, found n_min={n_min}, n_max={n_max}", "task.n_min")
        self.language, self.n_min, self.n_max = language, int(n_min), int(n_max)
        self.max_len = int(max_len) if max_len is not None else 2 * self.n_max
        if self.max_len < 2 * self.n_max:
            raise ScenarioError(f"max_len {self.max_len} < 2 * n_max = {2 * self.n_max}", "task.max_len")
        self.name = language

    def string(self, rng: np.random.Generator, n: int) -> tuple[list[int], np.ndarray]:
        """One string of parameter n and its targets ``[2n, 5]``."""
        if self.language == "anbn":
            s = anbn_string(n)
            return s, anbn_targets(s)
        s = dyck2_string(rng, n)
        return s, dyck2_targets(s)

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        if not isinstance(rng, np.random.Generator):
            raise ScenarioError(f"sample needs a numpy Generator, found {type(rng).__name__}")
        if batch < 1:
            raise ScenarioError(f"batch must be >= 1, found {batch}")
        return self.batch_of(rng, rng.integers(self.n_min, self.n_max + 1, size=batch))

    def batch_of(self, rng: np.random.Generator, ns: Sequence[int]) -> Batch:
        """A batch with the given n per string (info: ``n``, ``lengths``)."""
        T, B = self.max_len, len(ns)
        x = np.zeros((T, B, N_IN), np.float32)
        y = np.zeros((T, B, N_OUT), np.float32)
        m = np.zeros((T, B, 1), np.float32)
        for b, n in enumerate(ns):
            s, tg = self.string(rng, int(n))
            x[np.arange(len(s)), b, s] = 1.0
            y[:len(s), b] = tg
            m[:len(s), b] = 1.0
        return Batch(x, y, m, {"n": np.asarray(ns), "lengths": 2 * np.asarray(ns)})


def strings_correct(outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[B]`` bool: every masked step's thresholded outputs (``> 0.5``) equal the multi-hot target.

    Args:
        outputs: ``[T, B, 5]`` predictions; targets: ``[T, B, 5]``; mask: ``[T, B, 1]``.
    """
    wrong = np.any((outputs > 0.5) != (targets > 0.5), axis=-1) & (mask[..., 0] > 0)
    return ~np.any(wrong, axis=0)
