"""Perturbation scaling: how many examples gradient descent, node and weight perturbation need.

Published anchor: Werfel, Xie & Seung (2005) Neural Computation 17:2699-2718,
"Learning curves for stochastic gradient descent in linear feedforward
networks": on a linear teacher-student task the number of examples to reach a
given error grows, relative to gradient descent (GD), by a factor ~ M (the
number of outputs) for node perturbation (NP) and ~ MN for weight perturbation
(WP); at small sizes the factors are M + 2 and MN + 2 (the variance of a
d-dimensional Gaussian perturbation estimate carries d + 2).

Setup: teacher ``y = W* x``, ``x ~ N(0, I_N)``, ``W*`` entries ``N(0, 1/N)``;
a linear ``readout`` student (zero initial weights) sees one example per
update and learns with ``backprop`` (GD), ``node_perturbation`` or
``weight_perturbation`` (``leaves: matrices``: the weights, as in the paper),
all with plain SGD.  For each rule and each learning rate of a log grid the
examples to reach relative error ``|W - W*|^2 / |W*|^2 <= 1 %`` are averaged
over seeds; the best learning rate counts.  (N, M) in {10, 20} x {2, 4}.
Serial perturbation (one weight per update) is run at the smallest size: a
sweep over all N*M weights costs N*M updates where parallel WP costs one.

Pass (full): for every (N, M), NP/GD within 25 % of (M + 2) and WP/NP within
25 % of (MN + 2)/(M + 2).  Quick: (N, M) = (10, 2), 2 seeds, a 6-point grid,
both ratios within 50 %.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import brainsim
from brainsim.learn import train_scan
from brainsim.scenario import Result, RunContext, Scenario

WIRING = """
name: student
inputs: {{x: {N}, y: {M}}}
areas:
  student: {{type: readout, size: {M}, costs: {{supervised: {{target: y}}}}, rule: {rule},
            optimizer: {{sgd: {{learning_rate: 1.0}}}}}}
connections: [x -> student.input]
"""

RULES = {"gd": "backprop", "np": "{name: node_perturbation, sigma: 1.0e-3}",
         "wp": "{name: weight_perturbation, sigma: 1.0e-3, leaves: matrices}",
         "serial": "{name: serial_perturbation, sigma: 1.0e-3, leaves: matrices}"}


def noise_dim(method: str, N: int, M: int) -> int:
    """The dimension of the perturbation (0 for GD): sets the variance factor d + 2."""
    return {"gd": 0, "np": M, "wp": M * N, "serial": 1}[method]


def examples_to_criterion(err: np.ndarray, threshold: float) -> np.ndarray:
    """First step (1-based) with ``err <= threshold`` along the last axis (``inf`` if never)."""
    hit = err <= threshold
    first = np.argmax(hit, axis=-1).astype(float) + 1
    return np.where(hit.any(axis=-1), first, np.inf)


class PerturbationScaling(Scenario):
    name = "perturbation_scaling"
    description = "examples to 1 % error for GD, node and weight perturbation on a linear teacher-student task"
    anchor = "Werfel, Xie & Seung (2005) Neural Comput 17:2699"
    defaults = {"sizes": [[10, 2], [10, 4], [20, 2], [20, 4]], "seeds": 4, "grid": 8, "threshold": 0.01,
                "tolerance": 0.25, "serial": True, "horizon": 3.0}
    quick = {"sizes": [[10, 2]], "seeds": 2, "grid": 6, "tolerance": 0.5, "serial": False}
    option_docs = {"sizes": "(N, M) pairs: inputs and outputs of the linear student", "seeds": "runs averaged per rate",
                   "grid": "learning rates on the log grid (x 2^-2 .. 2^1.5 of the d+2 estimate)",
                   "threshold": "relative squared weight error that counts as learned",
                   "tolerance": "allowed relative gap of the measured ratios to M+2 and (MN+2)/(M+2)",
                   "serial": "also run serial perturbation at the first size",
                   "horizon": "examples simulated, as a multiple of the predicted need"}

    def run_method(self, ctx, method: str, N: int, M: int) -> dict:
        o = ctx.options
        brain = brainsim.from_yaml(WIRING.format(N=N, M=M, rule=RULES[method]))
        d = noise_dim(method, N, M)
        base = M / (N + 2) / (d + 2) * (N * M if method == "serial" else 1)  # ~ the best rate, up to a constant
        lrs = base * 2.0 ** np.linspace(-2.0, 1.5, o["grid"])
        # horizon: a multiple of the examples GD needs times the noise factor (serial: a sweep per example)
        gd_examples = np.log(1 / o["threshold"]) * (N + 2)
        S = int(o["horizon"] * gd_examples * (d + 2) * (N * M if method == "serial" else 1))
        rng = ctx.rng(1000 * N + M)
        Wstar = rng.normal(size=(N, M)) / np.sqrt(N)
        xs = rng.normal(size=(o["seeds"], S, 1, 1, N))
        batches = {"x": jnp.asarray(xs, jnp.float32), "y": jnp.asarray(xs @ Wstar, jnp.float32)}
        params, state = brain.init(ctx.key, batch=1)
        lay = params["areas"]["student"]["layers"][0]
        params["areas"]["student"]["layers"][0] = {"kernel": jnp.zeros_like(lay["kernel"]),
                                                   "bias": jnp.zeros_like(lay["bias"])}
        opt = brain.init_opt_state(params)
        Ws = jnp.asarray(Wstar, jnp.float32)
        norm = float(np.sum(Wstar ** 2))

        def observe(p):
            return jnp.sum(jnp.square(p["areas"]["student"]["layers"][0]["kernel"] - Ws)) / norm

        def one(lr, seed, batch):
            _, _, m = train_scan(brain.plan, brain.rules, brain.optimizers, params, opt, state, batch,
                                 jax.random.fold_in(ctx.key, seed), lr_scale=lr, observe=observe)
            return m["observed"]

        run = jax.jit(jax.vmap(jax.vmap(one, (None, 0, 0)), (0, None, None)))
        err = np.asarray(run(jnp.asarray(lrs, jnp.float32), jnp.arange(o["seeds"]), batches))  # [grid, seeds, S]
        n = examples_to_criterion(err, o["threshold"]).mean(axis=1)  # [grid]
        best = int(np.argmin(n))
        return {"examples": float(n[best]), "best_lr": float(lrs[best]), "lr_grid": lrs.tolist(),
                "examples_per_lr": [float(v) for v in n], "best_at_grid_edge": best in (0, len(lrs) - 1),
                "curve": err[best].mean(0)[:: max(1, S // 200)].tolist(), "horizon": S}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        table, ok = [], True
        for N, M in o["sizes"]:
            res = {m: self.run_method(ctx, m, N, M) for m in ("gd", "np", "wp")}
            np_gd = res["np"]["examples"] / res["gd"]["examples"]
            wp_np = res["wp"]["examples"] / res["np"]["examples"]
            want1, want2 = M + 2, (M * N + 2) / (M + 2)
            row = {"N": N, "M": M, "gd": res["gd"]["examples"], "np": res["np"]["examples"],
                   "wp": res["wp"]["examples"], "np_over_gd": np_gd, "expected_np_over_gd": want1,
                   "wp_over_np": wp_np, "expected_wp_over_np": want2,
                   "best_lr": {m: res[m]["best_lr"] for m in res},
                   "best_at_grid_edge": {m: res[m]["best_at_grid_edge"] for m in res}}
            if o["serial"] and (N, M) == tuple(o["sizes"][0]):
                s = self.run_method(ctx, "serial", N, M)
                row["serial"] = s["examples"]
                row["serial_over_wp"] = s["examples"] / res["wp"]["examples"]
                row["serial_updates_per_sweep"] = N * M
            good = abs(np_gd / want1 - 1) <= o["tolerance"] and abs(wp_np / want2 - 1) <= o["tolerance"]
            row["within_tolerance"] = bool(good)
            ok &= good
            table.append(row)
            ctx.log(f"N={N} M={M}: GD {row['gd']:.0f}, NP {row['np']:.0f}, WP {row['wp']:.0f} examples; "
                    f"NP/GD {np_gd:.2f} (M+2 = {want1}), WP/NP {wp_np:.2f} ((MN+2)/(M+2) = {want2:.2f})")
            self._curves = getattr(self, "_curves", {})
            self._curves[(N, M)] = {m: res[m]["curve"] for m in res}
        self._figure(ctx, table)
        crit = (f"NP/GD within {o['tolerance']:.0%} of M+2 and WP/NP within {o['tolerance']:.0%} of (MN+2)/(M+2) "
                f"for every (N, M)")
        return Result(bool(ok), ("quick: " if ctx.quick else "") + crit, {"table": table})

    def _figure(self, ctx, table):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        for m, mark in (("gd", "o"), ("np", "s"), ("wp", "^")):
            dims = [r["M"] * r["N"] for r in table]
            ax.loglog(dims, [r[m] for r in table], mark, label=m.upper())
        ax.set_xlabel("number of weights N*M")
        ax.set_ylabel("examples to 1 % relative error")
        ax.legend()
        fig.tight_layout()
        fig.savefig(ctx.figures / "examples_to_criterion.png", dpi=120)
        plt.close(fig)


SCENARIO = PerturbationScaling()
