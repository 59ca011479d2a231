"""Generated wirings for the viz tests."""

from __future__ import annotations

import numpy as np


def big_wiring(n_areas: int = 30, seed: int = 0) -> str:
    """A ``n_areas``-area wiring of ``rnn``/``readout`` areas with delays, gates, weights and projections.

    Areas ``a00..`` are laid out in layers of 5; every area gets a same-step edge from the layer below
    (or the input), some get extra skip edges, delayed back edges (recurrence), gated edges and
    projections (readouts have a different size, so edges from them need ``projection: linear``).
    """
    rng = np.random.default_rng(seed)
    names = [f"a{i:02d}" for i in range(n_areas)]
    layer = {n: i // 5 for i, n in enumerate(names)}
    kinds = {n: ("readout" if i % 7 == 6 else "rnn") for i, n in enumerate(names)}
    lines = ["name: big30", "description: generated wiring for layout tests", "inputs: {stim: 6, cue: 1}",
             "areas:"]
    for n in names:
        if kinds[n] == "rnn":
            lines.append(f"  {n}: {{type: rnn, hidden: 8}}")
        else:
            lines.append(f"  {n}: {{type: readout, size: 4}}")
    lines.append("connections:")

    def src(n):  # the output ref of an area and its dim
        return (f"{n}.h", 8) if kinds[n] == "rnn" else (f"{n}.output", 4)

    conns = []
    port_dim = {}

    def connect(s, d, n, **extra):
        """Direct when the dims agree with the port's first direct edge, else a learned projection."""
        project = extra.pop("project", False)
        if port_dim.setdefault(n, d) != d or project:
            extra["projection"] = "linear"
        conns.append({"from": s, "to": f"{n}.input", **extra})

    for n in names:
        L = layer[n]
        if L == 0:
            connect("stim", 6, n)
            continue
        below = sorted([m for m in names if layer[m] == L - 1], key=lambda m: kinds[m] != "rnn")
        first = below[int(rng.integers(0, sum(kinds[m] == "rnn" for m in below)))]
        others = [m for m in below if m != first]
        connect(*src(first), n)
        m = others[int(rng.integers(0, len(others)))]
        extra = {}
        if rng.random() < 0.5:
            extra["gate"] = "cue"
        if rng.random() < 0.3:
            extra["weight"] = 0.5
        connect(*src(m), n, **extra)
        if L >= 2 and rng.random() < 0.4:  # skip edge, gated by a channel of a00
            m = names[int(rng.integers(5 * (L - 2), 5 * (L - 1)))]
            connect(*src(m), n, gate=f"'{names[0]}.h[0]'", project=True)
        if rng.random() < 0.25:  # delayed recurrence from the same layer or above (or itself)
            later = [m for m in names if layer[m] >= L]
            m = later[int(rng.integers(0, len(later)))]
            connect(*src(m), n, delay=int(rng.integers(1, 4)), project=True)
    for c in conns:
        lines.append("  - {" + ", ".join(f"{k}: {v}" for k, v in c.items()) + "}")
    lines.append(f"outputs: {{out: {names[-1]}.{'h' if kinds[names[-1]] == 'rnn' else 'output'}}}")
    return "\n".join(lines) + "\n"
