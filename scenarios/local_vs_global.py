"""Local versus global credit (H2): a cortex learning only its own cost still serves the readout.

Published anchor: Marblestone, Wayne & Kording (2016) Front Comput Neurosci
10:94 (hypothesis 2: local, diverse cost functions can stand in for one
global objective); the classical case is unsupervised pre-training of a
representation followed by a supervised readout (Hinton & Salakhutdinov 2006
Science 313:504; Bengio et al. 2007 NeurIPS).

Setup: one wiring, ``cortex`` (a sigmoid autoencoder, ``hidden`` units) ->
``readout`` (linear, 10 classes, cross-entropy) on scikit-learn's digits
(pixels / 16; 75 % train, 25 % test), trained twice from the same initial
weights and minibatches:

* local credit (``credit: local``, the default): the cortex learns only its
  reconstruction; the readout only the labels (its input is a stop-gradient);
* global credit (``credit: global``): one summed cost, backprop through the
  whole graph (the readout's error also shapes the cortex).

Pass (full and quick): test accuracy of the readout under local credit within 3
points of global credit, while the local cortex keeps reconstruction R^2 >= 0.9
on the test set.  Quick: fewer epochs (criterion: within 5 points, R^2 >= 0.8).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import brainsim
from brainsim.learn import train_scan
from brainsim.scenario import Result, RunContext, Scenario

WIRING = """
name: local_vs_global
credit: {credit}
optimizer: {{adam: {{learning_rate: {lr}}}}}
inputs: {{image: 64, label: 10}}
areas:
  cortex: {{type: cortex, hidden: {hidden}, costs: {{reconstruction: 1.0}}}}
  readout: {{type: readout, size: 10, costs: {{supervised: {{target: label, loss: cross_entropy}}}}}}
connections: [image -> cortex.input, cortex.code -> readout.input]
probes: [readout.output, cortex.reconstruction]
"""


def r_squared(x: np.ndarray, xhat: np.ndarray) -> float:
    """``1 - SSE / SST`` over every pixel of every test image (SST around the pixel means)."""
    return float(1.0 - np.sum((x - xhat) ** 2) / np.sum((x - x.mean(0)) ** 2))


class LocalVsGlobal(Scenario):
    name = "local_vs_global"
    description = "cortex autoencoder -> readout on digits: local credit vs global backprop"
    anchor = "Marblestone, Wayne & Kording (2016) Front Comput Neurosci 10:94 (H2)"
    defaults = {"hidden": 48, "epochs": 60, "batch": 32, "lr": 5e-3, "max_gap": 3.0, "min_r2": 0.9}
    quick = {"epochs": 20, "max_gap": 5.0, "min_r2": 0.8}
    option_docs = {"hidden": "cortex code units", "epochs": "passes over the training set", "batch": "minibatch",
                   "lr": "adam learning rate", "max_gap": "pass: accuracy gap (points)", "min_r2": "pass: local R^2"}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        d = load_digits()
        xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.25, random_state=0)
        rng = ctx.rng(0)
        per = len(xtr) // o["batch"]
        idx = np.concatenate([rng.permutation(len(xtr))[:per * o["batch"]] for _ in range(o["epochs"])])
        idx = idx.reshape(-1, 1, o["batch"])
        eye = np.eye(10, dtype=np.float32)
        batches = {"image": jnp.asarray(xtr[idx], jnp.float32), "label": jnp.asarray(eye[ytr[idx]])}
        test = {"image": jnp.asarray(xte[None], jnp.float32), "label": jnp.asarray(eye[yte][None])}
        out, curves = {}, {}
        for credit in ("local", "global"):
            brain = brainsim.from_yaml(WIRING.format(credit=credit, lr=o["lr"], hidden=o["hidden"]))
            params, state = brain.init(jax.random.fold_in(ctx.key, 1), batch=o["batch"])
            opt = brain.init_opt_state(params)
            run = jax.jit(partial(train_scan, brain.plan, brain.rules, brain.optimizers))  # one compilation
            chunks = 6
            step = len(idx) // chunks
            acc_curve, r2_curve = [], []
            for c in range(chunks):
                sl = {k: v[c * step:(c + 1) * step] for k, v in batches.items()}
                params, opt, _ = run(params, opt, state, sl,
                                            jax.random.fold_in(ctx.key, 10 + c), step0=c * step)
                acc, r2 = self.evaluate(brain, params, test, yte, xte, ctx)
                acc_curve.append(acc)
                r2_curve.append(r2)
            out[credit] = {"test_accuracy": acc_curve[-1], "reconstruction_r2": r2_curve[-1]}
            curves[credit] = (acc_curve, r2_curve)
            ctx.log(f"{credit}: test accuracy {acc_curve[-1]:.2f} %, reconstruction R^2 {r2_curve[-1]:.3f}")
        gap = out["global"]["test_accuracy"] - out["local"]["test_accuracy"]
        ok = gap <= o["max_gap"] and out["local"]["reconstruction_r2"] >= o["min_r2"]
        self._figure(ctx, curves, len(idx) // 6 * o["batch"])
        crit = (f"local readout accuracy within {o['max_gap']} points of global backprop, local cortex "
                f"reconstruction R^2 >= {o['min_r2']}")
        return Result(bool(ok), ("quick: " if ctx.quick else "") + crit, {**out, "accuracy_gap_points": gap})

    @staticmethod
    def evaluate(brain, params, test, yte, xte, ctx):
        """``(test accuracy in %, reconstruction R^2)``: the whole test set as one batch of one step."""
        B = test["image"].shape[1]
        _, trace = brain.run(params, brain.init_state(B), test, jax.random.fold_in(ctx.key, 99))
        logits, recon = np.asarray(trace["readout.output"])[0], np.asarray(trace["cortex.reconstruction"])[0]
        return float(100.0 * np.mean(logits.argmax(-1) == yte)), r_squared(xte, recon)

    def _figure(self, ctx, curves, per):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
        for credit, (acc, r2) in curves.items():
            x = per * (1 + np.arange(len(acc)))
            axes[0].plot(x, acc, "o-", label=credit)
            axes[1].plot(x, r2, "o-", label=credit)
        axes[0].set_ylabel("readout test accuracy (%)")
        axes[1].set_ylabel("cortex reconstruction R²")
        for ax in axes:
            ax.set_xlabel("training samples")
            ax.legend()
        fig.tight_layout()
        fig.savefig(ctx.figures / "local_vs_global.png", dpi=120)
        plt.close(fig)


SCENARIO = LocalVsGlobal()
