"""SOM on digits: brainsim's ``kohonen`` rule against MiniSom, the reference implementation.

Published anchor: Kohonen (1982) Biol Cybern 43:59-69 (the self-organising map
algorithm); reference implementation: MiniSom (Vettigli 2018,
github.com/JustGlowing/minisom), the standard Python SOM.

Setup: scikit-learn's digits (1,797 images, 64 pixels scaled to [0, 1]); a
``som`` area (``rows x cols`` lattice, Gaussian neighbourhood) trained by the
``kohonen`` rule, one sample per update in dataset order, with
``sigma`` decaying linearly from ``sigma0`` to 1 and the learning rate linearly
from ``lr0`` to 0 (optax ``linear_schedule``\\ s: one compilation for the whole
run); MiniSom with the same lattice, neighbourhood (``gaussian``), schedules
(``linear_decay_to_one`` / ``linear_decay_to_zero``), sample order and initial
weights.  Both maps are scored by MiniSom's own ``quantization_error`` and
``topographic_error``.

Pass (full and quick): brainsim's quantization and topographic errors within 5 %
of MiniSom's (relative; the topographic error within 5 % or 0.01 absolute, as it
is a small fraction); the trained map must also beat its initial one.
Quick: a 6 x 6 map, 600 updates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits

import brainsim
from brainsim.learn import train_scan
from brainsim.scenario import Result, RunContext, Scenario

WIRING = """
name: som_digits
inputs: {{x: 64}}
areas:
  map:
    type: som
    rows: {rows}
    cols: {cols}
    rule:
      name: kohonen
      sigma: {{linear_schedule: {{init_value: {sigma0}, end_value: 1.0, transition_steps: {steps}}}}}
      learning_rate: {{linear_schedule: {{init_value: {lr0}, end_value: 0.0, transition_steps: {steps}}}}}
    optimizer: {{sgd: {{learning_rate: 1.0}}}}
connections: [x -> map.input]
"""


def minisom_errors(weights: np.ndarray, rows: int, cols: int, data: np.ndarray) -> tuple[float, float]:
    """MiniSom's quantization and topographic errors of a map with ``weights [rows*cols, d]``."""
    from minisom import MiniSom

    som = MiniSom(rows, cols, data.shape[1])
    som._weights = np.asarray(weights, np.float64).reshape(rows, cols, -1).copy()
    return float(som.quantization_error(data)), float(som.topographic_error(data))


class SOMDigits(Scenario):
    name = "som_digits"
    description = "kohonen rule on digits vs MiniSom with the same lattice, schedules and initial weights"
    anchor = "Kohonen (1982) Biol Cybern 43:59; MiniSom (Vettigli 2018)"
    defaults = {"rows": 10, "cols": 10, "steps": 9000, "sigma0": 3.0, "lr0": 0.5, "tolerance": 0.05}
    quick = {"rows": 6, "cols": 6, "steps": 600, "sigma0": 2.0}
    option_docs = {"rows": "lattice rows", "cols": "lattice columns", "steps": "updates (one sample each)",
                   "sigma0": "initial neighbourhood width (decays linearly to 1)", "lr0": "initial rate (decays to 0)",
                   "tolerance": "allowed relative gap to MiniSom's errors"}

    def run(self, ctx: RunContext) -> Result:
        from minisom import MiniSom

        o = ctx.options
        data = load_digits().data / 16.0
        rows, cols, S = o["rows"], o["cols"], o["steps"]
        brain = brainsim.from_yaml(WIRING.format(rows=rows, cols=cols, steps=S, sigma0=o["sigma0"], lr0=o["lr0"]))
        params, state = brain.init(jax.random.fold_in(ctx.key, 1), batch=1)
        W0 = np.asarray(params["areas"]["map"]["weights"])
        order = np.arange(S) % len(data)  # MiniSom's sequential order
        batches = {"x": jnp.asarray(data[order][:, None, None, :], jnp.float32)}
        params, _, _ = train_scan(brain.plan, brain.rules, brain.optimizers, params, brain.init_opt_state(params),
                                  state, batches, jax.random.fold_in(ctx.key, 2))
        W = np.asarray(params["areas"]["map"]["weights"])

        ref = MiniSom(rows, cols, 64, sigma=o["sigma0"], learning_rate=o["lr0"], neighborhood_function="gaussian",
                      decay_function="linear_decay_to_zero", sigma_decay_function="linear_decay_to_one",
                      random_seed=ctx.seed)
        ref._weights = W0.astype(np.float64).reshape(rows, cols, 64).copy()
        ref.train(data, S, random_order=False)
        qe, te = minisom_errors(W, rows, cols, data)
        qe_ref, te_ref = float(ref.quantization_error(data)), float(ref.topographic_error(data))
        qe0, te0 = minisom_errors(W0, rows, cols, data)
        rel_qe = abs(qe - qe_ref) / qe_ref
        te_gap = abs(te - te_ref)
        ok = rel_qe <= o["tolerance"] and (te_gap <= o["tolerance"] * te_ref or te_gap <= 0.01) and qe < qe0
        metrics = {"brainsim": {"quantization_error": qe, "topographic_error": te},
                   "minisom": {"quantization_error": qe_ref, "topographic_error": te_ref},
                   "initial": {"quantization_error": qe0, "topographic_error": te0},
                   "relative_qe_gap": rel_qe, "te_gap": te_gap,
                   "max_weight_difference": float(np.abs(W - ref._weights.reshape(rows * cols, 64)).max())}
        ctx.log(f"QE brainsim {qe:.4f} vs MiniSom {qe_ref:.4f}; TE {te:.4f} vs {te_ref:.4f} (initial QE {qe0:.3f})")
        self._figure(ctx, W, ref._weights.reshape(rows * cols, 64), rows, cols)
        crit = (f"QE within {o['tolerance']:.0%} of MiniSom's, TE within {o['tolerance']:.0%} (or 0.01), "
                f"QE below the initial map's")
        return Result(bool(ok), ("quick: " if ctx.quick else "") + crit, metrics)

    def _figure(self, ctx, W, Wref, rows, cols):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(8, 4))
        for ax, w, title in zip(axes, (W, Wref), ("brainsim kohonen", "MiniSom")):
            img = w.reshape(rows, cols, 8, 8).transpose(0, 2, 1, 3).reshape(rows * 8, cols * 8)
            ax.imshow(img, cmap="gray_r")
            ax.set_title(title)
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(ctx.figures / "maps.png", dpi=120)
        plt.close(fig)


SCENARIO = SOMDigits()
