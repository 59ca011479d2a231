"""Hebbian PCA: Oja's subspace rule and Sanger's GHA find the principal subspace.

Published anchor: Oja (1989) Int J Neural Syst 1:61-68 (the subspace network
converges to an orthonormal basis of the top-k principal subspace); Sanger
(1989) Neural Networks 2:459-473 (the generalized Hebbian algorithm converges
to the top-k eigenvectors themselves, in order).

Setup: d = 10 zero-mean Gaussian inputs with covariance ``Q diag(8 * 2^-i) Q^T``
(random rotation Q), a linear ``readout`` of k = 3 units (``y = W^T x``) trained
by the rule ``oja`` (subspace) or ``sanger`` with ``sgd`` and an exponentially
decaying learning rate, 20,000 samples (batches of ``batch`` samples, one time step).
Reference subspace: scikit-learn's PCA of the same samples.

Pass (full): the largest principal angle between span(W) and the PCA subspace is
<= 2 degrees for both rules, and Sanger's unit j is within 3 degrees of the j-th
principal axis (so its units are ordered by eigenvalue).
Quick: 4,000 samples; largest principal angle <= 8 degrees for both and Sanger's
units within 10 degrees of their axes.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

import brainsim
from brainsim.learn import train_scan
from brainsim.scenario import Result, RunContext, Scenario

WIRING = """
name: hebbian_pca_{rule}
inputs: {{x: {d}}}
areas:
  pca:
    type: readout
    size: {k}
    rule: {rule}
    optimizer: {{sgd: {{learning_rate: {{exponential_decay: {{init_value: {lr0}, transition_steps: {steps},
                                                           decay_rate: {decay}}}}}}}}}
connections: [x -> pca.input]
"""


def covariance(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(eigenvalues 8 * 2^-i, a random rotation Q [d, d])``."""
    lam = 8.0 * 2.0 ** -np.arange(d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return lam, q


def angles_to_axes(W: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Angle (degrees) between each column of ``W [d, k]`` and the matching row of ``axes [k, d]``."""
    c = np.abs(np.sum(W.T * axes, axis=1)) / np.linalg.norm(W, axis=0) / np.linalg.norm(axes, axis=1)
    return np.degrees(np.arccos(np.clip(c, 0.0, 1.0)))


class HebbianPCA(Scenario):
    name = "hebbian_pca"
    description = "Oja subspace rule and Sanger's GHA recover the principal subspace of Gaussian data"
    anchor = "Oja (1989) Int J Neural Syst 1:61; Sanger (1989) Neural Networks 2:459"
    defaults = {"d": 10, "k": 3, "samples": 20000, "batch": 1, "lr0": 0.05, "lr_end": 0.0001,
                "max_angle": 2.0, "max_axis_angle": 3.0}
    quick = {"samples": 4000, "lr_end": 0.0003, "max_angle": 8.0, "max_axis_angle": 10.0}
    option_docs = {"d": "input dimension", "k": "units (principal components learned)", "samples": "training samples",
                   "batch": "samples per update", "lr0": "initial learning rate", "lr_end": "final learning rate",
                   "max_angle": "pass: largest principal angle (deg)", "max_axis_angle": "pass: Sanger unit-axis angle (deg)"}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        rng = ctx.rng(0)
        lam, q = covariance(o["d"], rng)
        steps = o["samples"] // o["batch"]
        x = (rng.normal(size=(steps * o["batch"], o["d"])) * np.sqrt(lam)) @ q.T
        pca = PCA(n_components=o["k"]).fit(x)
        batches = {"x": jnp.asarray(x.reshape(steps, 1, o["batch"], o["d"]), jnp.float32)}
        decay = o["lr_end"] / o["lr0"]
        metrics, curves = {}, {}
        for rule in ("oja", "sanger"):
            brain = brainsim.from_yaml(WIRING.format(rule=rule, d=o["d"], k=o["k"], lr0=o["lr0"], steps=steps,
                                                     decay=decay))
            params, state = brain.init(jax.random.fold_in(ctx.key, 1), batch=o["batch"])
            params["areas"]["pca"]["layers"][0]["kernel"] = params["areas"]["pca"]["layers"][0]["kernel"] * 0.3
            opt = brain.init_opt_state(params)
            run = jax.jit(partial(train_scan, brain.plan, brain.rules, brain.optimizers))  # one compilation
            chunks, W = 20, []
            per = steps // chunks
            for c in range(chunks):  # one compilation, 20 chunks so the angle can be followed
                sl = {k: v[c * per:(c + 1) * per] for k, v in batches.items()}
                params, opt, _ = run(params, opt, state, sl,
                                            jax.random.fold_in(ctx.key, 2 + c), step0=c * per)
                W.append(np.asarray(params["areas"]["pca"]["layers"][0]["kernel"]))
            curves[rule] = [float(np.degrees(subspace_angles(w, pca.components_.T)).max()) for w in W]
            Wf = W[-1]
            metrics[rule] = {"largest_principal_angle_deg": curves[rule][-1],
                             "unit_angles_to_axes_deg": angles_to_axes(Wf, pca.components_).tolist(),
                             "column_norms": np.linalg.norm(Wf, axis=0).tolist()}
            ctx.log(f"{rule}: largest principal angle {curves[rule][-1]:.2f} deg; unit angles "
                    f"{np.round(metrics[rule]['unit_angles_to_axes_deg'], 2).tolist()}")
        self._figure(ctx, curves, per * o["batch"])
        ok_sub = all(metrics[r]["largest_principal_angle_deg"] <= o["max_angle"] for r in ("oja", "sanger"))
        ok_axes = max(metrics["sanger"]["unit_angles_to_axes_deg"]) <= o["max_axis_angle"]
        crit = (f"largest principal angle <= {o['max_angle']} deg (Oja subspace, Sanger) and each Sanger unit "
                f"within {o['max_axis_angle']} deg of its eigenvector")
        return Result(bool(ok_sub and ok_axes), ("quick: " if ctx.quick else "") + crit, metrics)

    def _figure(self, ctx, curves, per):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for rule, c in curves.items():
            ax.semilogy(per * (1 + np.arange(len(c))), c, "o-", label=rule)
        ax.set_xlabel("samples")
        ax.set_ylabel("largest principal angle (deg)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(ctx.figures / "principal_angle.png", dpi=120)
        plt.close(fig)


SCENARIO = HebbianPCA()
