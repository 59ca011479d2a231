"""buffer_routing: copy, swap and compare items between three working-memory buffers on command.

Setup: the wiring ``buffer_routing`` (basal ganglia with one Go/NoGo channel per
route dst <- src, a ``switchboard`` of 3 buffers, a same/different read-out).
An episode has 4 steps: items are loaded into buffers 0, 1, 2 (one per step),
then a command arrives (one-hot of 12): copy i -> j (6), swap i, j (3) or
compare i, j (3; half of the compare episodes hold the same item in i and j).
The striatum must learn, from the command alone, which routes to open; the
buffers' contents after the command (and the same/different answer) are the
training targets.  Items are random vectors (i.i.d. N(0, 1/width)); test items
are fresh draws never seen in training (routing is content-free).

Exact = every buffer's content decodes (nearest item by cosine among the
episode's items and ``distractors`` more) to the right item, and, for compare
commands, the answer is right.

Published anchor: Stocco, Lebiere & Anderson (2010) Psychol Rev 117:541-574
(the basal ganglia route information between cortical buffers: conditional
routing); O'Reilly & Frank (2006) (BG gating of PFC stripes).

Pass criterion (full mode): >= 95 % of test episodes exact, for every command type.
Quick mode: fewer training steps; >= 90 % exact over all test episodes.
Not built (issue 14): the "who did what to whom" role-binding half of the protocol.
"""

from __future__ import annotations

from itertools import combinations, permutations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario

WIRING = "buffer_routing"
N, T = 3, 4
OPS = ([("copy", s, d) for s, d in permutations(range(N), 2)] + [("swap", i, j) for i, j in combinations(range(N), 2)]
       + [("compare", i, j) for i, j in combinations(range(N), 2)])


def apply_op(op, contents: list) -> tuple[list, "bool | None"]:
    """The buffers (item ids) after ``op`` and, for compare, whether the two hold the same item."""
    kind, a, b = op
    out = list(contents)
    if kind == "copy":
        out[b] = contents[a]
    elif kind == "swap":
        out[a], out[b] = contents[b], contents[a]
    else:
        return out, contents[a] == contents[b]
    return out, None


def episodes(rng: np.random.Generator, batch: int, width: int, distractors: int):
    """Inputs ``{name: [T, B, d]}`` and per-episode info (ops, item ids, the episode's item vectors)."""
    n_items = N + distractors
    items = (rng.standard_normal((batch, n_items, width)) / np.sqrt(width)).astype(np.float32)
    ops = rng.integers(0, len(OPS), size=batch)
    x = {"item": np.zeros((T, batch, width), np.float32), "load": np.zeros((T, batch, N), np.float32),
         "command": np.zeros((T, batch, len(OPS)), np.float32), "contents": np.zeros((T, batch, N * width), np.float32),
         "contents_mask": np.zeros((T, batch, 1), np.float32), "answer": np.zeros((T, batch, 2), np.float32),
         "answer_mask": np.zeros((T, batch, 1), np.float32)}
    after_ids, answers = np.zeros((batch, N), int), np.full(batch, -1)
    for b in range(batch):
        op = OPS[ops[b]]
        ids = [0, 1, 2]
        if op[0] == "compare" and rng.random() < 0.5:
            ids[op[2]] = ids[op[1]]
        for t in range(N):
            x["item"][t, b] = items[b, ids[t]]
            x["load"][t, b, t] = 1.0
        x["command"][N, b, ops[b]] = 1.0
        after, same = apply_op(op, ids)
        after_ids[b] = after
        x["contents"][N, b] = items[b, after].reshape(-1)
        x["contents_mask"][N, b] = 1.0
        if same is not None:
            answers[b] = int(same)
            x["answer"][N, b, int(same)] = 1.0
            x["answer_mask"][N, b] = 1.0
    return x, {"ops": ops, "after": after_ids, "answers": answers, "items": items}


def exact(trace: dict, info: dict, width: int) -> np.ndarray:
    """``[B]`` bool: every buffer decodes to its target item and compare answers are right."""
    read = np.asarray(trace["buffers.read"])[N].reshape(-1, N, width)  # [B, N, W]
    items = info["items"]
    unit = lambda v: v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-9)  # noqa: E731
    sims = np.einsum("bnw,bkw->bnk", unit(read), unit(items))
    ok = np.all(sims.argmax(-1) == info["after"], axis=1)
    ans = np.asarray(trace["answer"])[N].argmax(-1)
    return ok & np.where(info["answers"] >= 0, ans == info["answers"], True)


class BufferRouting(Scenario):
    name = "buffer_routing"
    description = "basal-ganglia routing between 3 buffers: copy, swap, compare on command"
    anchor = "Stocco, Lebiere & Anderson (2010) Psychol Rev 117:541-574"
    wirings = (WIRING,)
    defaults = {"steps": 1500, "batch": 64, "test_episodes": 1200, "distractors": 20, "log_every": 50,
                "criterion": 0.95}
    option_docs = {"steps": "training updates", "batch": "episodes per update", "test_episodes": "test episodes",
                   "distractors": "extra items the decoder chooses among", "log_every": "metrics every this many steps",
                   "criterion": "exact fraction needed"}
    quick = {"steps": 400, "batch": 32, "test_episodes": 240, "log_every": 50, "criterion": 0.9}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        brain = ctx.load_brain(WIRING)
        width = brain.inputs["item"]
        params, _ = brain.init(jax.random.fold_in(ctx.key, 1))
        rng = ctx.rng(1)
        res = ctx.fit(brain, params, brain.init_opt_state(params),
                      lambda s: episodes(rng, int(o["batch"]), width, int(o["distractors"]))[0], int(o["steps"]),
                      jax.random.fold_in(ctx.key, 2), log_every=int(o["log_every"]), rngs={"train": rng}, label=WIRING)
        ctx.compile_seconds += res.compile_seconds
        x, info = episodes(ctx.rng(2), int(o["test_episodes"]), width, int(o["distractors"]))
        _, _, trace = brain.evaluate(res.params, brain.init_state(int(o["test_episodes"])), x, jax.random.fold_in(ctx.key, 3))
        ok = exact(trace, info, width)
        kinds = np.array([OPS[i][0] for i in info["ops"]])
        by_kind = {k: float(ok[kinds == k].mean()) for k in ("copy", "swap", "compare")}
        gates = np.asarray(trace["bg.gate"])[N]
        metrics = {"exact": float(ok.mean()), "exact_by_command": by_kind,
                   "mean_open_gate": float(gates[gates > 0.5].mean()) if np.any(gates > 0.5) else 0.0,
                   "params": int(sum(brain.param_counts(res.params).values()))}
        ctx.log(f"exact {metrics['exact']:.3f} by command {by_kind}")
        crit_level = float(o["criterion"])
        if ctx.quick:
            passed = metrics["exact"] >= crit_level
            crit = f"quick: >= {crit_level:.0%} of test episodes exact (copy, swap, compare)"
        else:
            passed = all(v >= crit_level for v in by_kind.values())
            crit = f">= {crit_level:.0%} of test episodes exact for copy, swap and compare (fresh items)"
        return Result(bool(passed), crit, metrics)


SCENARIO = BufferRouting()
