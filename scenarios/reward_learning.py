"""Reward learning: a three-factor rule with dopamine as third factor learns and reverses a two-armed bandit.

Published anchors: the gradient bandit algorithm of Sutton & Barto (2018,
Reinforcement Learning 2nd ed., section 2.8; Williams 1992), which reaches a
near-exclusive preference for the better arm of a stationary bandit within a
few hundred trials; the probabilistic selection / reversal tasks of Frank,
Seeberger & O'Reilly (2004) Science 306:1940-1943 (80 % vs 20 % reward, learnt
from dopamine bursts and dips in the basal ganglia); neo-Hebbian three-factor
plasticity with an eligibility trace bridging action and delayed dopamine:
Izhikevich (2007) Cereb Cortex 17:2443-2452, Frémaux & Gerstner (2016) Front
Neural Circuits 9:85.

Setup: ``wiring/reward_bandit.yaml``.  A trial is two steps: at step 0 the cue
drives the ``actor`` (softmax choice from preferences ``x W``), whose one-hot
choice is held in a one-slot working memory (efference copy); at step 1 the
outcome of the chosen arm (Bernoulli, p = 0.8 vs 0.2) reaches the basal
ganglia, whose critic learns V(cue) by TD(0) and whose ``dopamine`` port emits
delta = r - V(cue).  The actor learns only by ``reward_modulated``
(``modulated_by: bg.dopamine``, eligibility trace tau = 1 step): ``dW = <delta
(choice - mean choice) x^T>`` (sgd 1.5, weight decay 1e-3: forgetting).  One
update per trial, ``trials`` trials with arm 0 better, then the arms swap for
another ``trials`` trials; ``agents`` independent agents (seeds) vmapped in one
compilation.  Measured: each agent's choice probability of the currently better
arm after every trial (its policy), averaged over agents.

Pass criterion (full, 20 agents, 500 + 500 trials): the agent-mean probability
of choosing the better arm, averaged over the last 50 trials of the first
phase, >= 0.9 (learning), and of the *new* better arm over the last 50 trials
after the swap >= 0.9 (reversal); every agent's own average over those windows
>= ``agent_min`` (0.8: no agent stuck).  Quick: 6 agents, same trials,
thresholds 0.85 and 0.7.

Figure: ``figures/choice.png``: the probability of choosing arm 0 over trials
(mean and every agent), the swap marked, and the critic's value V(cue).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.learn import train_scan
from brainsim.scenario import Result, RunContext, Scenario

_WIRING = "reward_bandit"


def bandit_batches(rng: np.random.Generator, agents: int, trials: int, p_good: float, p_bad: float) -> dict:
    """Inputs for ``agents`` x (2 phases x ``trials``) one-trial updates: ``{name: [agents, S, 2, 1, dim]}``.

    Phase 1: arm 0 pays with ``p_good``, arm 1 with ``p_bad``; phase 2 swapped.  Both arms' outcomes are
    drawn for every trial; the brain gates in the chosen one.  The cue is on at step 0 only.
    """
    S = 2 * trials
    probs = np.concatenate([np.tile([p_good, p_bad], (trials, 1)), np.tile([p_bad, p_good], (trials, 1))])
    outcomes = (rng.uniform(size=(agents, S, 2)) < probs).astype(np.float32)
    payoff = np.zeros((agents, S, 2, 1, 2), np.float32)
    payoff[:, :, 1, 0] = outcomes
    cue = np.zeros((agents, S, 2, 1, 1), np.float32)
    cue[:, :, 0] = 1.0
    return {"cue": jnp.asarray(cue), "payoff": jnp.asarray(payoff)}


class RewardLearning(Scenario):
    name = "reward_learning"
    description = "two-armed bandit + reversal by reward_modulated with basal-ganglia dopamine as third factor"
    anchor = ("Sutton & Barto (2018) section 2.8; Frank, Seeberger & O'Reilly (2004) Science 306:1940; "
              "Izhikevich (2007) Cereb Cortex 17:2443; Frémaux & Gerstner (2016) Front Neural Circuits 9:85")
    wirings = (_WIRING,)
    defaults = {"agents": 20, "trials": 500, "p_good": 0.8, "p_bad": 0.2, "window": 50,
                "learn_min": 0.9, "reversal_min": 0.9, "agent_min": 0.8}
    quick = {"agents": 6, "learn_min": 0.85, "reversal_min": 0.85, "agent_min": 0.7}
    option_docs = {"agents": "independent agents (seeds), vmapped", "trials": "trials per phase (before / after the swap)",
                   "p_good": "reward probability of the better arm", "p_bad": "reward probability of the worse arm",
                   "window": "last trials of each phase averaged for the criterion",
                   "learn_min": "pass: mean P(better arm) at the end of phase 1 >= this",
                   "reversal_min": "pass: mean P(new better arm) at the end of phase 2 >= this",
                   "agent_min": "pass: every agent's own P(better arm) in both windows >= this"}

    def train(self, ctx: RunContext, brain, batches) -> tuple[np.ndarray, np.ndarray]:
        """Every agent's policy ``pi [agents, S, 2]`` and critic value ``V(cue) [agents, S]`` after each trial."""
        state = brain.init_state(1)
        temperature = brain.areas["actor"].area.config.temperature

        def observe(p):
            return (jax.nn.softmax(p["areas"]["actor"]["prefs"]["kernel"][0] / temperature),
                    p["areas"]["bg"]["critic"]["kernel"][0, 0])

        def one(agent, batch):
            params = brain.init(jax.random.fold_in(ctx.key, 1000 + agent), batch=1)[0]
            _, _, m = train_scan(brain.plan, brain.rules, brain.optimizers, params, brain.init_opt_state(params),
                                 state, batch, jax.random.fold_in(ctx.key, agent), observe=observe)
            return m["observed"]

        agents = jnp.arange(int(ctx.options["agents"]))
        t0 = time.perf_counter()
        fn = jax.jit(jax.vmap(one)).lower(agents, batches).compile()  # one compilation for every agent
        ctx.compile_seconds += time.perf_counter() - t0
        pi, V = fn(agents, batches)
        return np.asarray(pi), np.asarray(V)

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        brain = ctx.load_brain(_WIRING)
        n = int(o["trials"])
        batches = bandit_batches(ctx.rng(1), int(o["agents"]), n, float(o["p_good"]), float(o["p_bad"]))
        pi, V = self.train(ctx, brain, batches)
        better = np.concatenate([pi[:, :n, 0], pi[:, n:, 1]], axis=1)  # [agents, S] P(currently better arm)
        w = int(o["window"])
        learn, rev = better[:, n - w:n].mean(1), better[:, 2 * n - w:].mean(1)  # [agents]
        mean = better.mean(0)
        first = (lambda x: int(np.argmax(x >= 0.9)) + 1 if np.any(x >= 0.9) else None)
        m = {"p_better_end_phase1": float(learn.mean()), "p_better_end_phase2": float(rev.mean()),
             "agent_min_phase1": float(learn.min()), "agent_min_phase2": float(rev.min()),
             "trials_to_0.9": first(mean[:n]), "trials_after_swap_to_0.9": first(mean[n:]),
             "p_better_right_after_swap": float(mean[n]), "value_end_phase1": float(V[:, n - 1].mean()),
             "value_end_phase2": float(V[:, -1].mean()), "agents": int(o["agents"]), "trials_per_phase": n,
             "curve_p_arm0": pi[:, :, 0].mean(0).round(4).tolist()}
        self._curves = (pi[:, :, 0], V)
        ctx.log(f"bandit: P(better) over the last {w} trials of phase 1 {m['p_better_end_phase1']:.3f} (reached 0.9 "
                f"after {m['trials_to_0.9']} trials); after the swap {m['p_better_end_phase2']:.3f} (0.9 after "
                f"{m['trials_after_swap_to_0.9']} trials); worst agent {min(learn.min(), rev.min()):.3f}")
        checks = {"learned": m["p_better_end_phase1"] >= o["learn_min"],
                  "reversed": m["p_better_end_phase2"] >= o["reversal_min"],
                  "every_agent": min(m["agent_min_phase1"], m["agent_min_phase2"]) >= o["agent_min"]}
        m["checks"] = checks
        crit = (f"{o['agents']} agents, p = {o['p_good']}/{o['p_bad']}: mean P(better arm) over the last {w} of {n} "
                f"trials >= {o['learn_min']}, and of the new better arm over the last {w} of {n} trials after the "
                f"swap >= {o['reversal_min']}; every agent >= {o['agent_min']} in both windows")
        return Result(all(checks.values()), ("quick: " if ctx.quick else "") + crit, m)

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        p0, V = self._curves
        n = int(ctx.options["trials"])
        x = 1 + np.arange(p0.shape[1])
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for row in p0:
            ax.plot(x, row, color="#4C72B0", alpha=0.15, lw=0.6)
        ax.plot(x, p0.mean(0), color="#4C72B0", lw=2, label="P(choose arm 0), mean of agents")
        ax.plot(x, V.mean(0), color="#C44E52", lw=1.2, label="critic V(cue) (expected reward)")
        ax.axvline(n + 0.5, color="k", ls="--", lw=1)
        ax.text(n + 5, 0.5, "arms swap", fontsize=8)
        for y in (0.1, 0.9):
            ax.axhline(y, color="gray", ls=":", lw=0.8)
        ax.set_xlabel("trial")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"arm 0 pays {ctx.options['p_good']} then {ctx.options['p_bad']}", fontsize=9)
        ax.legend(fontsize=7, loc="center right")
        fig.tight_layout()
        fig.savefig(ctx.figures / "choice.png", dpi=120)
        plt.close(fig)


SCENARIO = RewardLearning()
