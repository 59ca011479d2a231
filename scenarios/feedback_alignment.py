"""Feedback alignment: random feedback weights teach a network as well as backprop's transposes.

Published anchor: Lillicrap, Cownden, Tweed & Akerman (2016) Nature
Communications 7:13276, "Random synaptic feedback weights support error
backpropagation for deep learning" (a linear 30-20-10 network learns a random
linear map with a fixed random feedback matrix; the angle between FA's and
backprop's hidden updates falls well below 90 degrees as the forward weights
align with the feedback), and Nøkland (2016) NeurIPS (direct feedback alignment).

Part 1, linear (the paper's Fig. 2 setting): ``y* = T x``, ``T`` entries
``U(-1, 1)`` [10 x 30], ``x ~ N(0, I_30)``; a linear 30-20-10 network (weights
``U(-0.01, 0.01)``), one sample per update, SGD; FA (feedback ``B`` entries
``U(-0.5, 0.5)``) and BP from the same initial weights and samples, through
the rule's own functions (:func:`brainsim.rules.feedback.forward`,
``feedback_deltas``, ``layer_grads``).  The angle between FA's hidden update
``e B`` and backprop's ``e W_2^T`` is averaged over blocks of 50 samples.
Pass: below 60 degrees within 1,000 samples, below 90 degrees from then on, and
FA's loss within 2x of BP's at 5,000 samples.

Part 2, digits: a ``readout`` MLP 64-100-10 (tanh, cross-entropy) trained by
``backprop``, ``feedback_alignment`` and ``direct_feedback_alignment`` (adam,
minibatches of 32, ``epochs`` epochs, 5 seeds vmapped in one compilation).
Pass: FA's and DFA's median test error within 1 percentage point of BP's.
Quick: part 1 in full; part 2 with 2 seeds and 8 epochs, within 3 points.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import brainsim
from brainsim.learn import train_scan
from brainsim.rules.feedback import feedback_deltas, forward, layer_grads
from brainsim.scenario import Result, RunContext, Scenario

MLP = """
name: digits_mlp
inputs: {{image: 64, label: 10}}
areas:
  net: {{type: readout, size: 10, hidden: [100], rule: {rule},
        costs: {{supervised: {{target: label, loss: cross_entropy}}}}, optimizer: {{adam: {{learning_rate: {lr}}}}}}}
connections: [image -> net.input]
probes: [net.output]
"""


def linear_run(key, samples: int, lr: float):
    """Train the linear 30-20-10 net by FA and BP on the same samples: per-sample angles and losses [samples]."""
    k = jax.random.split(key, 5)
    T = jax.random.uniform(k[0], (30, 10), minval=-1.0, maxval=1.0)
    W0 = [jax.random.uniform(k[1], (30, 20), minval=-0.01, maxval=0.01),
          jax.random.uniform(k[2], (20, 10), minval=-0.01, maxval=0.01)]
    b0 = [jnp.zeros(20), jnp.zeros(10)]
    B = jax.random.uniform(k[3], (10, 20), minval=-0.5, maxval=0.5)
    xs = jax.random.normal(k[4], (samples, 30))

    def step(carry, x):
        (Wf, Wb) = carry
        out = []
        for W, fb in ((Wf, [B]), (Wb, None)):
            zs, acts = forward(W, b0, x, "linear")
            e = acts[-1] - x @ T  # dC/dy of C = 0.5 |y - y*|^2
            deltas = feedback_deltas(zs, e, fb, "linear", False, Ws=W)
            gW, _ = layer_grads([a[None] for a in acts], [d[None] for d in deltas])
            out.append(([w - lr * g for w, g in zip(W, gW)], 0.5 * jnp.sum(e ** 2), e))
        (Wf2, loss_f, e_f), (Wb2, loss_b, _) = out
        fa_h, bp_h = e_f @ B, e_f @ Wf[1].T  # the hidden updates FA prescribes vs backprop's, at FA's weights
        cos = jnp.sum(fa_h * bp_h) / (jnp.linalg.norm(fa_h) * jnp.linalg.norm(bp_h) + 1e-12)
        return (Wf2, Wb2), (jnp.degrees(jnp.arccos(jnp.clip(cos, -1, 1))), loss_f, loss_b)

    _, (angle, loss_f, loss_b) = jax.lax.scan(step, (W0, W0), xs)
    return angle, loss_f, loss_b


def blocks(x: np.ndarray, n: int) -> np.ndarray:
    return x[: len(x) // n * n].reshape(-1, n).mean(1)


class FeedbackAlignmentScenario(Scenario):
    name = "feedback_alignment"
    description = "FA and DFA vs backprop: linear 30-20-10 alignment angle; MLP on digits"
    anchor = "Lillicrap et al. (2016) Nat Commun 7:13276; Nøkland (2016) NeurIPS"
    defaults = {"samples": 5000, "lr_linear": 2e-4, "block": 50, "seeds": 5, "epochs": 40, "batch": 32,
                "lr": 1e-3, "max_gap": 1.0}
    quick = {"seeds": 2, "epochs": 8, "max_gap": 3.0}
    option_docs = {"samples": "linear part: samples", "lr_linear": "linear part: SGD rate",
                   "block": "linear part: samples per averaged angle", "seeds": "digits: seeds (median)",
                   "epochs": "digits: epochs", "batch": "digits: minibatch", "lr": "digits: adam rate",
                   "max_gap": "pass: FA/DFA median error gap to BP (points)"}

    def part_linear(self, ctx) -> dict:
        o = ctx.options
        angle, lf, lb = (np.asarray(v) for v in jax.jit(linear_run, static_argnums=(1,))(
            jax.random.fold_in(ctx.key, 1), o["samples"], o["lr_linear"]))
        a = blocks(angle, o["block"])
        first = int(np.argmax(a < 60.0)) if np.any(a < 60.0) else None
        first_samples = None if first is None else (first + 1) * o["block"]
        after = a[first:] if first is not None else a
        loss_f, loss_b = float(blocks(lf, 250)[-1]), float(blocks(lb, 250)[-1])
        self._linear = (a, blocks(lf, o["block"]), blocks(lb, o["block"]))
        return {"samples_to_angle_below_60": first_samples, "max_angle_after_deg": float(after.max()),
                "final_angle_deg": float(a[-1]), "fa_loss_at_end": loss_f, "bp_loss_at_end": loss_b,
                "fa_over_bp_loss": loss_f / loss_b,
                "passed": bool(first_samples is not None and first_samples <= 1000 and after.max() < 90.0
                               and loss_f <= 2.0 * loss_b)}

    def part_digits(self, ctx) -> dict:
        o = ctx.options
        d = load_digits()
        xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.25, random_state=0)
        eye = np.eye(10, dtype=np.float32)
        per = len(xtr) // o["batch"]
        idx = np.stack([np.concatenate([ctx.rng(100 + s).permutation(len(xtr))[:per * o["batch"]]
                                        for _ in range(o["epochs"])]).reshape(-1, 1, o["batch"])
                        for s in range(o["seeds"])])  # [seeds, steps, 1, batch]
        batches = {"image": jnp.asarray(xtr[idx], jnp.float32), "label": jnp.asarray(eye[ytr[idx]])}
        test = {"image": jnp.asarray(xte[None], jnp.float32), "label": jnp.asarray(eye[yte][None])}
        out = {}
        for rule in ("backprop", "feedback_alignment", "direct_feedback_alignment"):
            brain = brainsim.from_yaml(MLP.format(rule=rule, lr=o["lr"]))
            state = brain.init_state(o["batch"])

            def one(seed, batch, brain=brain, state=state):
                params = brain.init(jax.random.fold_in(ctx.key, 1000 + seed), batch=1)[0]
                opt = brain.init_opt_state(params)
                params, _, _ = train_scan(brain.plan, brain.rules, brain.optimizers, params, opt, state, batch,
                                          jax.random.fold_in(ctx.key, seed))
                return params

            params = jax.jit(jax.vmap(one))(jnp.arange(o["seeds"]), batches)
            errs = []
            for s in range(o["seeds"]):
                p = jax.tree.map(lambda v, s=s: v[s], params)
                _, trace = brain.run(p, brain.init_state(len(xte)), test, ctx.key)
                errs.append(float(100.0 * np.mean(np.asarray(trace["net.output"])[0].argmax(-1) != yte)))
            out[rule] = {"test_error_pct": errs, "median": float(np.median(errs))}
            ctx.log(f"digits {rule}: median test error {out[rule]['median']:.2f} % (seeds {np.round(errs, 2)})")
        bp = out["backprop"]["median"]
        out["fa_gap_points"] = out["feedback_alignment"]["median"] - bp
        out["dfa_gap_points"] = out["direct_feedback_alignment"]["median"] - bp
        out["passed"] = bool(out["fa_gap_points"] <= o["max_gap"] and out["dfa_gap_points"] <= o["max_gap"])
        return out

    def run(self, ctx: RunContext) -> Result:
        lin = self.part_linear(ctx)
        ctx.log(f"linear: angle < 60 deg after {lin['samples_to_angle_below_60']} samples, max after "
                f"{lin['max_angle_after_deg']:.1f} deg; loss FA/BP at the end {lin['fa_over_bp_loss']:.2f}")
        dig = self.part_digits(ctx)
        self._figure(ctx)
        o = ctx.options
        crit = ("linear: FA-BP hidden-update angle < 60 deg within 1,000 samples and < 90 after, FA loss <= 2x BP at "
                f"{o['samples']} samples; digits: FA and DFA median test error within {o['max_gap']} points of BP")
        return Result(bool(lin["passed"] and dig["passed"]), ("quick: " if ctx.quick else "") + crit,
                      {"linear": lin, "digits": dig})

    def _figure(self, ctx):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        a, lf, lb = self._linear
        x = ctx.options["block"] * (1 + np.arange(len(a)))
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
        axes[0].plot(x, a)
        axes[0].axhline(90, color="gray", ls=":")
        axes[0].set_ylabel("angle FA vs BP hidden update (deg)")
        axes[1].semilogy(x, lf, label="FA")
        axes[1].semilogy(x, lb, label="BP")
        axes[1].set_ylabel("loss")
        axes[1].legend()
        for ax in axes:
            ax.set_xlabel("samples")
        fig.tight_layout()
        fig.savefig(ctx.figures / "linear_alignment.png", dpi=120)
        plt.close(fig)


SCENARIO = FeedbackAlignmentScenario()
