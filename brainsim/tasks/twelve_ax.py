"""The 12-AX working-memory task, exactly as in O'Reilly & Frank (2006).

O'Reilly, R. C. & Frank, M. J. (2006). Making working memory work: a
computational model of learning in the prefrontal cortex and basal ganglia.
*Neural Computation* 18(2), 283-328.

Symbols (one-hot, ``input_dim = 8``, in this order)::

    1 2 A B C X Y Z

Structure of a sequence:

* an **outer loop** is a digit, ``1`` or ``2`` (p = 0.5 each), followed by
  1-4 **inner loops** (uniform over 1, 2, 3, 4);
* an **inner loop** is a pair of letters: ``AX`` or ``BY`` with probability
  0.5 in total (0.25 each), otherwise one of the seven other pairs ``AY AZ BX
  BZ CX CY CZ`` (uniform, 0.5 / 7 each).

Rule: the target is **R** for ``X`` immediately after ``A`` when the last
digit seen was ``1``, and for ``Y`` immediately after ``B`` when the last
digit was ``2``; every other step (digits and first letters of pairs
included) has target **L**. Targets are one-hot ``[L, R]`` (``target_dim =
2``; index 1 = R). Solving the task needs two levels of working memory: the
digit (held over a whole outer loop) and the pair's first letter (held for
one step), with the digit gated in and kept while letters come and go.

An **epoch is 25 outer loops**, so its length is ``25 + 2 * (number of
inner loops)``, between 75 and 225 steps. ``TwelveAX.sample`` returns ``B``
independent epochs padded to a fixed length ``max_len`` (default
``outer_loops * 9``, the longest possible epoch) with ``mask = 0`` and zero
inputs/targets on the padding, so array shapes never change between calls
and a jitted train step never recompiles.

**Criterion** (O'Reilly & Frank 2006): the task is learned when the model
makes 0 errors in 2 successive epochs. :func:`epoch_errors` counts the errors
of each epoch; the scenario implements the criterion on top of it.

Expected fraction of R-target steps: each inner loop ends on an R with
probability 0.25 (``AX`` under ``1`` or ``BY`` under ``2``); an outer loop
has on average 2.5 inner loops and 1 + 2 * 2.5 = 6 steps, hence
``P(R) = 2.5 * 0.25 / 6 ~= 0.104``.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import ScenarioError
from .base import Batch, Task
from .registry import TaskOption, register_task

__all__ = [
    "SYMBOLS",
    "TARGET_NAMES",
    "PAIRS",
    "PAIR_PROBS",
    "TwelveAX",
    "generate_sequence",
    "target_of",
    "epoch_errors",
    "per_symbol_accuracy",
]

SYMBOLS: Tuple[str, ...] = ("1", "2", "A", "B", "C", "X", "Y", "Z")
"""Input symbols, in one-hot order."""

TARGET_NAMES: Tuple[str, ...] = ("L", "R")
"""Target classes, in one-hot order (index 1 = R)."""

PAIRS: Tuple[str, ...] = ("AX", "BY", "AY", "AZ", "BX", "BZ", "CX", "CY", "CZ")
"""Inner-loop letter pairs; the first two are the target pairs."""

PAIR_PROBS: Tuple[float, ...] = (0.25, 0.25) + (0.5 / 7,) * 7
"""Probability of each entry of :data:`PAIRS`."""

_SYM = {s: i for i, s in enumerate(SYMBOLS)}
_PAIR_FIRST = np.array([_SYM[p[0]] for p in PAIRS], dtype=np.int32)
_PAIR_SECOND = np.array([_SYM[p[1]] for p in PAIRS], dtype=np.int32)
_PAIR_P = np.array(PAIR_PROBS, dtype=np.float64)
_PAIR_P /= _PAIR_P.sum()
_L, _R = 0, 1
_MAX_INNER = 4


def _generate_indices(rng: np.random.Generator, outer_loops: int) -> Tuple[np.ndarray, np.ndarray]:
    """One sequence of ``outer_loops`` outer loops as index arrays.

    Draw order (part of the reproducibility contract): all digits, then all
    inner-loop counts, then all pairs.

    Returns:
        ``(symbols, targets)``: int32 arrays ``[L]`` of symbol indices into
        :data:`SYMBOLS` and target indices into :data:`TARGET_NAMES`.
    """
    digit = rng.integers(0, 2, size=outer_loops)  # 0 -> "1", 1 -> "2"
    n_inner = rng.integers(1, _MAX_INNER + 1, size=outer_loops)
    total = int(n_inner.sum())
    pair = rng.choice(len(PAIRS), size=total, p=_PAIR_P)

    outer_len = 1 + 2 * n_inner
    start = np.cumsum(outer_len) - outer_len  # position of each digit
    length = int(outer_len.sum())
    symbols = np.empty(length, dtype=np.int32)
    targets = np.full(length, _L, dtype=np.int32)
    symbols[start] = digit  # SYMBOLS[0] = "1", SYMBOLS[1] = "2"

    owner = np.repeat(np.arange(outer_loops), n_inner)  # outer loop of each pair
    within = np.arange(total) - np.repeat(np.cumsum(n_inner) - n_inner, n_inner)
    first_pos = start[owner] + 1 + 2 * within
    symbols[first_pos] = _PAIR_FIRST[pair]
    symbols[first_pos + 1] = _PAIR_SECOND[pair]
    # The structural rule: the pair's second letter is R iff the pair is AX
    # under digit 1 or BY under digit 2 (PAIRS[0] = AX, PAIRS[1] = BY).
    is_r = ((pair == 0) & (digit[owner] == 0)) | ((pair == 1) & (digit[owner] == 1))
    targets[first_pos[is_r] + 1] = _R
    return symbols, targets


def generate_sequence(rng: np.random.Generator, outer_loops: int = 25) -> Tuple[List[str], List[int]]:
    """A reference 12-AX sequence of ``outer_loops`` outer loops.

    :meth:`TwelveAX.sample` draws each of its epochs exactly as this function
    does, one after the other from the same ``rng``.

    Args:
        rng: numpy generator (advanced in place).
        outer_loops: number of outer loops (>= 1).

    Returns:
        ``(symbols, targets)``: symbols as strings from :data:`SYMBOLS`,
        targets as ints (0 = L, 1 = R), both of length
        ``outer_loops + 2 * (number of inner loops)``.
    """
    _check_positive_int(outer_loops, "outer_loops")
    sym, tgt = _generate_indices(rng, int(outer_loops))
    return [SYMBOLS[i] for i in sym], [int(t) for t in tgt]


def target_of(symbols: Sequence[str]) -> List[int]:
    """Targets of a symbol stream by the 12-AX rule, computed step by step.

    This is an independent reference implementation (it knows nothing of
    outer/inner loops or pairs) used to check the generator.

    Args:
        symbols: a stream of symbols from :data:`SYMBOLS` (strings).

    Returns:
        One int per symbol: 1 (R) for ``X`` right after ``A`` when the last
        digit was ``1`` or ``Y`` right after ``B`` when the last digit was
        ``2``; 0 (L) otherwise, including before any digit.
    """
    out: List[int] = []
    last_digit: Optional[str] = None
    previous: Optional[str] = None
    for s in symbols:
        if s not in _SYM:
            raise ScenarioError(f"unknown 12-AX symbol {s!r}; expected one of {' '.join(SYMBOLS)}")
        if s in ("1", "2"):
            last_digit = s
            out.append(0)
        elif s == "X" and previous == "A" and last_digit == "1":
            out.append(1)
        elif s == "Y" and previous == "B" and last_digit == "2":
            out.append(1)
        else:
            out.append(0)
        previous = s
    return out


def _as_mask(mask, shape: Tuple[int, ...]) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == len(shape) + 1 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.shape != shape:
        raise ScenarioError(f"mask has shape {m.shape}; expected {shape} or {shape + (1,)}")
    return m > 0


def _as_index(a, name: str) -> np.ndarray:
    """``[T, B]`` ints; a one-hot or logit array ``[T, B, K]`` is argmaxed."""
    a = np.asarray(a)
    if a.ndim == 3:
        a = a.argmax(axis=-1)
    if a.ndim != 2:
        raise ScenarioError(f"{name} must be [T, B] indices or [T, B, K] scores; got shape {a.shape}")
    return a.astype(np.int64)


def epoch_errors(pred, targets, mask) -> np.ndarray:
    """Number of wrong responses in each epoch.

    Args:
        pred: ``[T, B]`` int predicted class (0 = L, 1 = R), or ``[T, B, 2]``
            scores/logits (argmaxed).
        targets: ``[T, B]`` int target class, or ``[T, B, 2]`` one-hot.
        mask: ``[T, B]`` or ``[T, B, 1]``; steps with mask 0 are ignored.

    Returns:
        ``[B]`` int64: errors per epoch. The 12-AX criterion is 0 errors in
        2 successive epochs.
    """
    p = _as_index(pred, "pred")
    t = _as_index(targets, "targets")
    if p.shape != t.shape:
        raise ScenarioError(f"pred has shape {p.shape} but targets have shape {t.shape}")
    m = _as_mask(mask, t.shape)
    return ((p != t) & m).sum(axis=0).astype(np.int64)


def per_symbol_accuracy(pred, targets, mask, symbols_idx) -> Dict[str, float]:
    """Accuracy broken down by the input symbol of each step.

    Args:
        pred: ``[T, B]`` int predictions (or ``[T, B, 2]`` scores).
        targets: ``[T, B]`` int targets (or ``[T, B, 2]`` one-hot).
        mask: ``[T, B]`` or ``[T, B, 1]``.
        symbols_idx: ``[T, B]`` int index into :data:`SYMBOLS` (``-1`` on
            padding), as in ``Batch.info["symbols"]``.

    Returns:
        ``{symbol: accuracy}`` for every symbol that occurs on a counted step,
        plus ``"R-targets"`` (accuracy on steps whose target is R) and
        ``"all"`` (accuracy on every counted step). Keys with no counted
        step are omitted.
    """
    p = _as_index(pred, "pred")
    t = _as_index(targets, "targets")
    s = np.asarray(symbols_idx)
    if not (p.shape == t.shape == s.shape):
        raise ScenarioError(f"shapes differ: pred {p.shape}, targets {t.shape}, symbols_idx {s.shape}")
    m = _as_mask(mask, t.shape) & (s >= 0)
    correct = p == t
    out: Dict[str, float] = {}
    for i, name in enumerate(SYMBOLS):
        sel = m & (s == i)
        if sel.any():
            out[name] = float(correct[sel].mean())
    sel = m & (t == _R)
    if sel.any():
        out["R-targets"] = float(correct[sel].mean())
    if m.any():
        out["all"] = float(correct[m].mean())
    return out


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ScenarioError(f"{name} must be a positive integer; got {value!r}", where=f"task.{name}")


@register_task("twelve_ax")
class TwelveAX(Task):
    """The 12-AX task (O'Reilly & Frank 2006), one epoch per batch element (numpy, host-side).

    Args:
        outer_loops: outer loops per epoch (the paper: 25).
        max_len: padded length ``T`` of every batch; default
            ``outer_loops * 9``, the longest possible epoch. Must be at least
            that, so that no epoch is ever truncated.

    ``sample(rng, B)`` returns a :class:`~brainsim.tasks.base.Batch` with

    * ``inputs`` ``[T, B, 8]`` one-hot symbols (zeros on padding),
    * ``targets`` ``[T, B, 2]`` one-hot ``[L, R]`` (zeros on padding),
    * ``mask`` ``[T, B, 1]`` (1 on the epoch's steps, 0 on padding),
    * ``info["symbols"]`` ``[T, B]`` int32 index into :data:`SYMBOLS`
      (-1 on padding), ``info["target_idx"]`` ``[T, B]`` int32 (0 = L,
      1 = R, -1 on padding), ``info["lengths"]`` ``[B]`` int32.

    Epoch ``b`` is drawn exactly as ``generate_sequence(rng, outer_loops)``
    would draw it after epochs ``0..b-1``. The criterion (0 errors in 2
    successive epochs) is evaluated by the scenario with :func:`epoch_errors`.
    """

    name = "twelve_ax"
    kind = "numpy"
    options = {
        "outer_loops": TaskOption(int, 25, "outer loops per epoch (the paper: 25)"),
        "max_len": TaskOption((int, type(None)), None, "padded length T (default outer_loops * 9, the longest epoch)"),
    }
    input_dim = len(SYMBOLS)
    target_dim = len(TARGET_NAMES)

    def __init__(self, outer_loops: int = 25, max_len: Optional[int] = None):
        _check_positive_int(outer_loops, "outer_loops")
        self.outer_loops = int(outer_loops)
        longest = self.outer_loops * (1 + 2 * _MAX_INNER)
        if max_len is None:
            max_len = longest
        _check_positive_int(max_len, "max_len")
        if max_len < longest:
            raise ScenarioError(
                f"max_len={max_len} is shorter than the longest possible epoch "
                f"({self.outer_loops} outer loops x 9 = {longest} steps)",
                where="task.max_len",
                hint=f"leave max_len unset, set it >= {longest}, or lower outer_loops",
            )
        self.max_len = int(max_len)

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        """Draw ``batch`` independent epochs padded to ``max_len`` steps.

        Args:
            rng: numpy generator, advanced in place (checkpoint
                ``rng.bit_generator.state`` to resume exactly).
            batch: number of epochs ``B`` (>= 1).

        Returns:
            A :class:`Batch`; see the class docstring for shapes.
        """
        if not isinstance(rng, np.random.Generator):
            raise ScenarioError(
                f"rng must be a numpy.random.Generator; got {type(rng).__name__}",
                hint="use numpy.random.default_rng(seed)",
            )
        _check_positive_int(batch, "batch")
        T, B = self.max_len, int(batch)
        symbols = np.full((T, B), -1, dtype=np.int32)
        target_idx = np.full((T, B), -1, dtype=np.int32)
        lengths = np.zeros(B, dtype=np.int32)
        for b in range(B):
            sym, tgt = _generate_indices(rng, self.outer_loops)
            n = sym.shape[0]
            symbols[:n, b] = sym
            target_idx[:n, b] = tgt
            lengths[b] = n
        valid = symbols >= 0
        eye_in = np.eye(self.input_dim, dtype=np.float32)
        eye_t = np.eye(self.target_dim, dtype=np.float32)
        inputs = np.where(valid[..., None], eye_in[np.maximum(symbols, 0)], 0.0).astype(np.float32)
        targets = np.where(valid[..., None], eye_t[np.maximum(target_idx, 0)], 0.0).astype(np.float32)
        mask = valid[..., None].astype(np.float32)
        info = {"symbols": symbols, "target_idx": target_idx, "lengths": lengths}
        return Batch(inputs=inputs, targets=targets, mask=mask, info=info)

    def __repr__(self) -> str:
        return f"TwelveAX(outer_loops={self.outer_loops}, max_len={self.max_len})"
