"""maze_planning: after one exploration episode, reach the goal by imagined rollouts.

Published anchors: Tolman (1948) Psychol Rev 55 (latent learning: rats that explored a maze without
reward take short paths once a goal appears); Pfeiffer & Foster (2013) Nature 497 (hippocampal
sequences depict future paths to remembered goals).  Model-free learners need many rewarded
episodes for the same (Sutton & Barto 2018, ch. 8, Dyna maze).

Setup: a 10 x 10 grid maze (a random depth-first "perfect" maze with ``extra_openings`` walls
removed to make loops); actions N / E / S / W, a move into a wall stays put.  Exploration: ONE
episode, a random walk of ``explore_steps`` steps without a goal; the ``planner`` area stores each
experienced transition once.  Test: ``pairs`` random start/goal pairs; at every step the planner
plans by rollouts in its model and acts (a closed loop compiled as one ``lax.scan``).  Baseline:
a tabular actor-critic (softmax actor, TD(0) critic — the basal ganglia's learning scheme,
Barto 1995 — here in numpy, not the ``basal_ganglia`` area) trained on rewarded episodes from one
start to one goal until its greedy path is <= 1.2 x the shortest; the number of episodes is reported.

Pass criterion (quick and full): every test pair reached with path length <= 1.2 x the shortest
(mean ratio reported).  Quick: fewer pairs and baseline episodes.
Figure: ``figures/maze.png`` the maze, the explored path (visit counts), the imagined rollout and
the executed path of the first test pair.
"""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.testing import make_area

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # N E S W (row, col)


def make_maze(rng: np.random.Generator, h: int, w: int, extra: int) -> np.ndarray:
    """Transition table ``[h * w, 4]`` of a random DFS maze with ``extra`` additional openings."""
    open_ = set()
    seen, stack = {(0, 0)}, [(0, 0)]
    while stack:
        r, c = stack[-1]
        nbrs = [(r + dr, c + dc) for dr, dc in MOVES if 0 <= r + dr < h and 0 <= c + dc < w
                and (r + dr, c + dc) not in seen]
        if not nbrs:
            stack.pop()
            continue
        n = nbrs[rng.integers(len(nbrs))]
        open_.add(frozenset(((r, c), n)))
        seen.add(n)
        stack.append(n)
    walls = [frozenset(((r, c), (r + dr, c + dc))) for r in range(h) for c in range(w) for dr, dc in MOVES[1:3]
             if r + dr < h and c + dc < w]
    closed = [x for x in walls if x not in open_]
    for i in rng.permutation(len(closed))[:extra]:
        open_.add(closed[i])
    table = np.zeros((h * w, 4), np.int32)
    for r in range(h):
        for c in range(w):
            for a, (dr, dc) in enumerate(MOVES):
                n = (r + dr, c + dc)
                ok = 0 <= n[0] < h and 0 <= n[1] < w and frozenset(((r, c), n)) in open_
                table[r * w + c, a] = n[0] * w + n[1] if ok else r * w + c
    return table


def shortest(table: np.ndarray, start: int, goal: int) -> int:
    """Breadth-first shortest path length."""
    dist, q = {start: 0}, deque([start])
    while q:
        s = q.popleft()
        for n in table[s]:
            if int(n) not in dist:
                dist[int(n)] = dist[s] + 1
                q.append(int(n))
    return dist[goal]


class MazePlanning(Scenario):
    name = "maze_planning"
    description = "one exploration episode, then planned rollouts reach the goal (vs model-free actor-critic)"
    anchor = "Tolman (1948) Psychol Rev 55; Pfeiffer & Foster (2013) Nature 497"
    defaults = {"height": 10, "width": 10, "extra_openings": 10, "explore_steps": 10000, "pairs": 20,
                "baseline_episodes": 3000}
    quick = {"pairs": 5, "baseline_episodes": 400}
    option_docs = {  # `brainsim list maze_planning`
        "height": "maze rows", "width": "maze columns",
        "extra_openings": "walls removed after carving a perfect maze (loops: several routes)",
        "explore_steps": "steps of the single random exploration episode",
        "pairs": "random start/goal pairs tested",
        "baseline_episodes": "episodes the model-free actor-critic baseline may train"}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        rng = ctx.rng(1)
        h, w = int(o["height"]), int(o["width"])
        S = h * w
        table = make_maze(rng, h, w, int(o["extra_openings"]))
        area = make_area("planner", states=S, actions=4)
        params, st0 = area.init(jax.random.key(0))
        env = jnp.asarray(table)

        # exploration: one random walk, no goal; each transition stored once
        acts = rng.integers(0, 4, int(o["explore_steps"]))
        pos = [0]
        for a in acts:
            pos.append(int(table[pos[-1], a]))
        pos = np.array(pos)
        seq = {"state": np.eye(S, dtype=np.float32)[pos],
               "action": np.concatenate([np.zeros((1, 4), np.float32), np.eye(4, dtype=np.float32)[acts]]),
               "goal": np.zeros((len(pos), S), np.float32)}
        explore = jax.jit(lambda s, x: jax.lax.scan(lambda c, xx: area.step(params, c, xx, key=jax.random.key(0)), s, x))
        st, _ = explore(st0, {k: jnp.asarray(v) for k, v in seq.items()})
        known = float(np.mean(np.asarray(st["model"]) >= 0))

        # test: closed loop, planned by rollouts at every step
        max_steps = 3 * S

        @jax.jit
        def navigate(state, start, goal):
            g = jax.nn.one_hot(goal, S)

            def body(c, _):
                s, x, prev_a = c
                s, out = area.step(params, s, {"state": jax.nn.one_hot(x, S), "action": prev_a, "goal": g,
                                               "learn": jnp.zeros((1,))}, key=jax.random.key(0))
                a = jnp.argmax(out["action"])
                nx = jnp.where(jnp.any(out["action"] > 0), env[x, a], x)
                return (s, nx, out["action"]), (x, out["imagined"], out["distance"][0])

            (_, _, _), (xs, imagined, dist) = jax.lax.scan(body, (state, start, jnp.zeros((4,))), None,
                                                           length=max_steps)
            return xs, imagined[0], dist[0]

        pairs, ratios, first = [], [], None
        for _ in range(int(o["pairs"])):
            start, goal = (int(x) for x in rng.choice(S, 2, replace=False))
            xs, imagined, d0 = navigate(st, start, goal)
            xs = np.asarray(xs)
            hit = np.nonzero(xs == goal)[0]
            length = int(hit[0]) if len(hit) else None
            best = shortest(table, start, goal)
            ratios.append(length / best if length is not None else float("inf"))
            pairs.append({"start": start, "goal": goal, "path": length, "shortest": best, "imagined": float(d0)})
            if first is None:
                first = (start, goal, xs[: (length or max_steps) + 1], np.asarray(imagined))
        baseline = _actor_critic(table, pairs[0]["start"], pairs[0]["goal"], pairs[0]["shortest"],
                                 int(o["baseline_episodes"]), ctx.rng(2))
        metrics = {"transitions_known": known, "pairs": pairs, "mean_ratio": float(np.mean(ratios)),
                   "max_ratio": float(np.max(ratios)), "all_reached": bool(np.all(np.isfinite(ratios))),
                   "actor_critic_episodes_to_1.2x": baseline, "planner_exploration_episodes": 1}
        ctx.log(f"transitions known {known:.3f}; planned path / shortest: mean {metrics['mean_ratio']:.3f}, "
                f"max {metrics['max_ratio']:.3f}; actor-critic episodes to 1.2x: {baseline}")
        _figure(ctx, table, h, w, pos, first)
        passed = metrics["all_reached"] and metrics["max_ratio"] <= 1.2
        crit = "after one exploration episode, every test pair reached by planned rollouts with path <= 1.2 x shortest"
        return Result(bool(passed), crit, metrics)


def _actor_critic(table, start, goal, best, max_episodes, rng, alpha=0.1, beta=0.5, gamma=0.95):
    """Episodes a tabular actor-critic needs until its greedy path is <= 1.2 x ``best`` (None: never)."""
    S = table.shape[0]
    V, pref = np.zeros(S), np.zeros((S, 4))
    for ep in range(1, max_episodes + 1):
        s = start
        for _ in range(4 * S):
            p = np.exp(pref[s] - pref[s].max())
            a = rng.choice(4, p=p / p.sum())
            n = int(table[s, a])
            r = 1.0 if n == goal else 0.0
            delta = r + (0.0 if n == goal else gamma * V[n]) - V[s]   # dopamine: the TD error
            V[s] += alpha * delta
            pref[s, a] += beta * delta
            s = n
            if s == goal:
                break
        x, steps = start, 0
        while x != goal and steps <= 1.2 * best:
            x, steps = int(table[x, int(np.argmax(pref[x]))]), steps + 1
        if x == goal and steps <= 1.2 * best:
            return ep
    return None


def _figure(ctx, table, h, w, pos, first) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start, goal, path, imagined = first
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    visits = np.bincount(pos, minlength=h * w).reshape(h, w)
    for ax, title in zip(axes, ("explored (visit counts)", "imagined rollout", "executed path")):
        for s in range(h * w):
            r, c = divmod(s, w)
            for a, (dr, dc) in enumerate(MOVES):
                if table[s, a] == s:  # a wall (or the border) on that side
                    if dr:
                        y = r + (0.5 if dr > 0 else -0.5)
                        ax.plot([c - 0.5, c + 0.5], [y, y], "k", lw=1.5)
                    else:
                        x = c + (0.5 if dc > 0 else -0.5)
                        ax.plot([x, x], [r - 0.5, r + 0.5], "k", lw=1.5)
        ax.set(xlim=(-0.6, w - 0.4), ylim=(h - 0.4, -0.6), title=title, xticks=[], yticks=[])
        ax.plot(*divmod(start, w)[::-1], "go", ms=9)
        ax.plot(*divmod(goal, w)[::-1], "r*", ms=12)
    axes[0].imshow(visits, cmap="Blues", alpha=0.7)
    axes[1].imshow(imagined.reshape(h, w), cmap="Oranges", alpha=0.6)
    rc = np.array([divmod(int(s), w) for s in path])
    axes[2].plot(rc[:, 1], rc[:, 0], "C0-", lw=2)
    fig.tight_layout()
    fig.savefig(ctx.figures / "maze.png", dpi=100)
    plt.close(fig)


SCENARIO = MazePlanning()
