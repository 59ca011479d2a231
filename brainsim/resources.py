"""Resource bounds checked from shapes alone, before anything is allocated.

``validate`` must mean "it can be built": a wiring whose parameters, state or delay buffers do not
fit in memory is refused with an error naming the area or edge and its size, instead of an XLA
abort, an out-of-memory kill or a 16 TB allocation attempt.  Shapes come from
:func:`jax.eval_shape` of each area's ``init`` and ``initial_state`` (abstract: nothing is
allocated) and from the plan's delay lines and projections.

The limit is ``BRAINSIM_MEMORY_LIMIT`` (bytes, or with a unit: ``8G``, ``512M``), by default half
of the machine's physical memory.  Training needs about four copies of the parameters (params,
gradients and two optimiser moments), which the estimate counts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

import jax
import numpy as np

from .errors import WiringError

TRAINING_COPIES = 4  # params + gradients + two optimiser moments (adam)
MAX_ELEMENTS = 2 ** 31 - 1  # XLA indexes arrays with int32 on several backends
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def physical_memory() -> int:
    """Bytes of physical memory (``8 GiB`` when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2 ** 30


def memory_limit() -> int:
    """The byte limit of one brain: ``BRAINSIM_MEMORY_LIMIT`` or half the physical memory.

    Raises:
        WiringError: the variable is set but not a size.
    """
    text = os.environ.get("BRAINSIM_MEMORY_LIMIT", "").strip()
    if not text:
        return physical_memory() // 2
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", text, re.IGNORECASE)
    if not m:
        raise WiringError(f"BRAINSIM_MEMORY_LIMIT must be a size such as 8G or 512M, found {text!r}",
                          "BRAINSIM_MEMORY_LIMIT", hint="e.g. BRAINSIM_MEMORY_LIMIT=8G")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def human(n: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


@dataclass
class Estimate:
    """Bytes a brain needs, by part.

    Attributes:
        params: ``{area or edge name: parameter bytes}`` (projections under their edge's name).
        state: ``{area name: state bytes for the whole batch}``.
        delays: ``{edge name: ring-buffer bytes for the whole batch}``.
        batch: the batch size the state and delays are counted for.
        largest: ``{"params" | "state" | "delays": the largest single array (elements) and where}``.
    """

    params: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    delays: dict = field(default_factory=dict)
    batch: int = 1
    largest: dict = field(default_factory=dict)

    @property
    def training_bytes(self) -> int:
        return TRAINING_COPIES * sum(self.params.values()) + sum(self.state.values()) + sum(self.delays.values())

    def biggest(self) -> tuple[str, str, int]:
        """``(kind, name, bytes)`` of the single largest contributor to :attr:`training_bytes`."""
        parts = [("params", n, TRAINING_COPIES * b) for n, b in self.params.items()] + \
                [("state", n, b) for n, b in self.state.items()] + [("delays", n, b) for n, b in self.delays.items()]
        return max(parts, key=lambda p: p[2]) if parts else ("params", "-", 0)


def _nbytes(tree) -> tuple[int, int]:
    """(total bytes, largest element count) of a pytree of ShapeDtypeStructs."""
    total, largest = 0, 0
    for x in jax.tree.leaves(tree):
        n = int(np.prod(x.shape, dtype=np.float64)) if x.shape else 1
        total += n * np.dtype(x.dtype).itemsize
        largest = max(largest, n)
    return total, largest


def estimate(graph, batch: int = 1) -> Estimate:
    """Shapes only: parameter, state and delay-buffer bytes of every area and edge of a
    :class:`~brainsim.graph.BrainGraph`, for ``batch`` samples."""
    est = Estimate(batch=batch)
    key = jax.random.key(0)
    big: dict = {}
    for name, node in graph.areas.items():
        p, lp = _nbytes(jax.eval_shape(lambda k, area=node.area: area.init(k)[0], key))
        s, ls = _nbytes(jax.eval_shape(node.area.initial_state))
        est.params[name] = p * node.replicas
        est.state[name] = s * node.replicas * batch
        big = _bigger(big, "params", name, lp)
        big = _bigger(big, "state", name, ls * batch)
    for e in graph.edges:
        if e.projection == "linear":
            est.params[e.name] = e.src_dim * e.dst_dim * 4
            big = _bigger(big, "params", e.name, e.src_dim * e.dst_dim)
        if e.delay > 0:
            est.delays[e.name] = batch * e.delay * e.src_dim * 4
            big = _bigger(big, "delays", e.name, batch * e.delay * e.src_dim)
    est.largest = big
    return est


def _bigger(big: dict, kind: str, name: str, n: int) -> dict:
    if n > big.get(kind, (0, ""))[0]:
        big = {**big, kind: (n, name)}
    return big


def check(graph, batch: int = 1, limit: Optional[int] = None) -> Estimate:
    """Refuse a brain that cannot be built: an array over :data:`MAX_ELEMENTS` elements, or more
    than ``limit`` bytes (default :func:`memory_limit`) to train at batch ``batch``.

    Raises:
        WiringError: at the area's or edge's line in the wiring file, naming it, its size and the
            limit, with how to fix it.
    """
    limit = memory_limit() if limit is None else limit
    est = estimate(graph, batch)
    what = {"params": "parameter array", "state": "state array (whole batch)", "delays": "delay buffer (whole batch)"}
    for kind, (n, name) in est.largest.items():
        if n > MAX_ELEMENTS:
            raise WiringError(f"{_describe(graph, name)}: its largest {what[kind]} has {n:,} elements; "
                              f"the most one array may hold is {MAX_ELEMENTS:,}", _where(graph, name),
                              hint="reduce the dimensions (or the delay, or the batch)")
    total = est.training_bytes
    if total > limit:
        kind, name, b = est.biggest()
        raise WiringError(f"the brain needs about {human(total)} to train at batch {batch} "
                          f"(the limit is {human(limit)}); the largest part is {_describe(graph, name)}'s {kind}: "
                          f"{human(b)}", _where(graph, name),
                          hint="reduce its size, or raise the limit with BRAINSIM_MEMORY_LIMIT=<bytes, e.g. 64G>")
    return est


def _edge(graph, name: str):
    return next((e for e in graph.edges if e.name == name), None)


def _describe(graph, name: str) -> str:
    e = _edge(graph, name)
    return f"connection {e.index} ({e.src} -> {e.dst})" if e is not None else f"area '{name}'"


def _where(graph, name: str):
    e = _edge(graph, name)
    spec = graph.spec
    if e is not None:
        conns = spec.connections
        return conns[e.index].loc if e.index < len(conns) and conns[e.index].loc is not None else \
            spec.where("connections", e.index)
    return spec.where("areas", name, key=True)
