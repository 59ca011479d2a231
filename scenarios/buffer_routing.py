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

Role binding ("who did what to whom", wiring ``buffer_routing_roles``): short
generated sentences, one word per step, six frames -- active ("n0 chased n1"),
passive ("n1 was chased by n0"), double object ("n0 gave n2 n1"), dative
("n0 gave n1 to n2"), passive dative ("n1 was given to n2 by n0") and passive
recipient ("n2 was given n1 by n0") -- then three questions "who was the
agent / patient / recipient?" (in random order; no recipient in a transitive
sentence).  An Elman parser reads the words (every name as the word
``<name>``: a name's identity reaches the brain only as a filler; with
``name_words`` the parser also sees which name it reads, a control); its
state drives a basal ganglia whose softmax gate chooses one of three fixed
unitary role vectors; at a name the binding area binds the chosen role to the
name's vector (circular convolution) and superposes the pair in its trace; at a
question the chosen role is the query, and the clean-up memory (the names)
answers.  Only the answers are supervised (MSE of the clean-up's answer
against the right name's vector); the error reaches the gates and the parser
through the binding algebra, so the brain finds its own role code.
Held out: in training name ``i`` never fills role ``i mod 3``; every test
sentence puts at least one name in a role it never had in training (name
combinations never seen, Hadley's strong systematicity).

Published anchors: Stocco, Lebiere & Anderson (2010) Psychol Rev 117:541-574
(the basal ganglia route information between cortical buffers: conditional
routing); O'Reilly & Frank (2006) (BG gating of PFC stripes).  Role binding:
Plate (1995) IEEE Trans Neural Netw 6:623-641 (HRR), Smolensky (1990) Artif
Intell 46:159-216 (tensor-product role/filler binding), Hummel & Holyoak (1997)
Psychol Rev 104:427-466 (LISA: relational roles bound to fillers generalise to
new combinations); Hadley (1994) Mind Lang 9:247-272 (strong systematicity).

Pass criterion (full mode): >= 95 % of test episodes exact, for every command
type, and >= 95 % of held-out role questions answered right, for every role.
Quick mode: fewer training steps; >= 90 % exact over all test routing episodes
and >= 90 % of held-out role questions right.
"""

from __future__ import annotations

from itertools import combinations, permutations

import jax
import numpy as np

from brainsim.areas.binding import unitary
from brainsim.errors import ScenarioError
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


# ---------------------------------------------------------------- role binding: who did what to whom

ROLES_WIRING = "buffer_routing_roles"
ROLES = ("agent", "patient", "recipient")
T_VERBS, D_VERBS = ("chased", "kicked", "saw"), ("gave", "sent", "showed")
FUNCTION = ("was", "by", "to")
QUESTIONS = tuple(f"who:{r}" for r in ROLES)
# Templates: words are role names (a name fills that role), "Vt"/"Vd" (a transitive / ditransitive verb) or
# function words.  Roles come from syntax: word order, the passive "was ... by" and the dative "to".
TEMPLATES = (
    ("active", ("agent", "Vt", "patient")),                                       # Alice chased Bob
    ("passive", ("patient", "was", "Vt", "by", "agent")),                         # Bob was chased by Alice
    ("double_object", ("agent", "Vd", "recipient", "patient")),                   # Alice gave Bob Carol
    ("dative", ("agent", "Vd", "patient", "to", "recipient")),                    # Alice gave Carol to Bob
    ("passive_dative", ("patient", "was", "Vd", "to", "recipient", "by", "agent")),  # Carol was given to Bob by Alice
    ("passive_recipient", ("recipient", "was", "Vd", "patient", "by", "agent")),     # Bob was given Carol by Alice
)
T_SENT = max(len(t) for _, t in TEMPLATES)
T_ROLES = T_SENT + len(ROLES)  # the sentence (padded), then one question per role


def lexicon(n_names: int) -> tuple[str, ...]:
    """Every word of the task: the names (each its own word), the verbs, the function words and the questions."""
    return tuple(f"name{i}" for i in range(n_names)) + T_VERBS + D_VERBS + FUNCTION + QUESTIONS + ("<name>",)


def forbidden_role(name: int) -> int:
    """The role a name never fills in training (held out): name i is never role ``i mod 3`` there."""
    return name % len(ROLES)


def draw_names(rng: np.random.Generator, roles: tuple, n_names: int, held_out: bool) -> dict:
    """Distinct names for ``roles``: training never puts a name in its forbidden role; held-out draws put
    at least one name there (so every test sentence is a name/role combination never seen in training)."""
    while True:
        names = rng.choice(n_names, size=len(roles), replace=False)
        unseen = any(forbidden_role(int(n)) == ROLES.index(r) for n, r in zip(names, roles))
        if unseen == held_out:
            return {r: int(n) for r, n in zip(roles, names)}


def role_episodes(rng: np.random.Generator, batch: int, vocab: np.ndarray, role_vectors: np.ndarray,
                  held_out: bool, name_words: bool = False):
    """Sentences then questions: inputs ``{name: [T_ROLES, B, d]}`` and per-episode info.

    Args:
        vocab: ``[n_names, D]`` the names' vectors (the binding area's clean-up vocabulary).
        role_vectors: ``[3, D]`` the role vectors the basal ganglia choose among (inputs r0..r2).
        name_words: the parser sees which name it reads (its own word); else every name is the word
            ``<name>`` and a name's identity reaches the brain only as the binding area's filler.
    """
    n_names, dim = vocab.shape
    words = lexicon(n_names)
    widx = {w: i for i, w in enumerate(words)}
    x = {"word": np.zeros((T_ROLES, batch, len(words)), np.float32), "name": np.zeros((T_ROLES, batch, dim), np.float32),
         "answer": np.zeros((T_ROLES, batch, dim), np.float32),
         "answer_mask": np.zeros((T_ROLES, batch, 1), np.float32)}
    for k in range(len(ROLES)):
        x[f"r{k}"] = np.broadcast_to(role_vectors[k], (T_ROLES, batch, dim)).astype(np.float32)
    template = rng.integers(0, len(TEMPLATES), size=batch)
    targets = np.full((batch, len(ROLES)), -1)  # [B, role] the name filling the role (-1: none)
    asked = np.zeros((batch, len(ROLES)), int)  # [B, question step] which role is asked
    for b in range(batch):
        _, form = TEMPLATES[template[b]]
        roles = tuple(w for w in form if w in ROLES)
        who = draw_names(rng, roles, n_names, held_out)
        for t, w in enumerate(form):
            if w in ROLES:
                x["word"][t, b, who[w] if name_words else widx["<name>"]] = 1.0
                x["name"][t, b] = vocab[who[w]]
                targets[b, ROLES.index(w)] = who[w]
            else:
                verb = {"Vt": T_VERBS, "Vd": D_VERBS}.get(w)
                x["word"][t, b, widx[verb[rng.integers(len(verb))]] if verb else widx[w]] = 1.0
        asked[b] = rng.permutation(len(ROLES))
        for q, r in enumerate(asked[b]):
            t = T_SENT + q
            x["word"][t, b, widx[QUESTIONS[r]]] = 1.0
            if targets[b, r] >= 0:
                x["answer"][t, b] = vocab[targets[b, r]]
                x["answer_mask"][t, b] = 1.0
    return x, {"template": template, "targets": targets, "asked": asked}


def role_answers(trace: dict, info: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(correct [B, 3], valid [B, 3])`` per role: the clean-up answer to "who was the <role>?"."""
    pred = np.asarray(trace["similarity"])[T_SENT:].argmax(-1).T  # [B, question step]
    b = np.arange(len(pred))[:, None]
    correct, valid = np.zeros_like(pred, bool), np.zeros_like(pred, bool)
    correct[b, info["asked"]] = pred == info["targets"][b, info["asked"]]
    valid[b, info["asked"]] = info["targets"][b, info["asked"]] >= 0
    return correct, valid


class BufferRouting(Scenario):
    name = "buffer_routing"
    description = "BG routing between 3 buffers (copy, swap, compare) and role binding (who did what to whom)"
    anchor = "Stocco, Lebiere & Anderson (2010) Psychol Rev 117:541-574; Plate (1995); Smolensky (1990)"
    wirings = (WIRING, ROLES_WIRING)
    defaults = {"steps": 1500, "batch": 64, "test_episodes": 1200, "distractors": 20, "log_every": 50,
                "criterion": 0.95, "parts": ["routing", "roles"], "role_steps": 1500, "role_batch": 64,
                "role_test": 1200, "names": 12, "name_words": False}
    option_docs = {"steps": "training updates", "batch": "episodes per update", "test_episodes": "test episodes",
                   "distractors": "extra items the decoder chooses among", "log_every": "metrics every this many steps",
                   "criterion": "exact fraction (routing) and correct fraction (roles) needed",
                   "parts": "which halves run: routing (copy/swap/compare) and/or roles (who did what to whom)",
                   "role_steps": "role binding: training updates", "role_batch": "role binding: sentences per update",
                   "role_test": "role binding: held-out test sentences",
                   "names": "role binding: names (the clean-up vocabulary)",
                   "name_words": "role binding: the parser sees each name as its own word (a control; default: "
                                 "every name is the word <name>, its identity only a filler)"}
    quick = {"steps": 400, "batch": 32, "test_episodes": 240, "log_every": 50, "criterion": 0.9,
             "role_steps": 300, "role_batch": 32, "role_test": 240}

    def run(self, ctx: RunContext) -> Result:
        parts = list(ctx.options["parts"])
        unknown = sorted(set(parts) - {"routing", "roles"})
        if unknown or not parts:
            raise ScenarioError(f"option parts: expected a non-empty list of 'routing' and 'roles', found {parts}; "
                                "hint: --set parts=[roles]")
        metrics: dict = {}
        passed, crits = True, []
        if "routing" in parts:
            p, c, m = self.run_routing(ctx)
            metrics.update(m)
            passed, crits = passed and p, crits + [c]
        if "roles" in parts:
            p, c, m = self.run_roles(ctx)
            metrics["roles"] = m
            passed, crits = passed and p, crits + [c]
        return Result(bool(passed), "; ".join(crits), metrics)

    def run_routing(self, ctx: RunContext) -> tuple[bool, str, dict]:
        """Copy / swap / compare between the switchboard's buffers: ``(passed, criterion, metrics)``."""
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
        return passed, crit, metrics

    def run_roles(self, ctx: RunContext) -> tuple[bool, str, dict]:
        """Who did what to whom on held-out name combinations: ``(passed, criterion, metrics)``."""
        o = ctx.options
        n_names = int(o["names"])
        if n_names < len(ROLES) * 2:
            raise ScenarioError(f"option names: expected >= {2 * len(ROLES)} (every role needs names that may "
                                f"fill it in training and names held out of it), found {n_names}")
        ctx.overrides[(ROLES_WIRING, "areas.binding.vocab")] = n_names
        ctx.overrides[(ROLES_WIRING, "inputs.word")] = len(lexicon(n_names))
        brain = ctx.load_brain(ROLES_WIRING)
        dim = brain.inputs["name"]
        params, _ = brain.init(jax.random.fold_in(ctx.key, 11))
        vocab = np.asarray(params["areas"]["binding"]["vocab"])
        role_vectors = np.asarray(jax.vmap(lambda k: unitary(k, dim))(
            jax.random.split(jax.random.fold_in(ctx.key, 12), len(ROLES))))
        rng = ctx.rng(11)
        nw = bool(o["name_words"])
        res = ctx.fit(brain, params, brain.init_opt_state(params),
                      lambda s: role_episodes(rng, int(o["role_batch"]), vocab, role_vectors, False, nw)[0],
                      int(o["role_steps"]), jax.random.fold_in(ctx.key, 13), log_every=int(o["log_every"]),
                      rngs={"train": rng}, label=ROLES_WIRING, desc=ROLES_WIRING)
        ctx.compile_seconds += res.compile_seconds
        n_test = int(o["role_test"])
        metrics = {}
        for split, held_out, stream in (("held_out", True, 12), ("train_combinations", False, 13)):
            x, info = role_episodes(ctx.rng(stream), n_test, vocab, role_vectors, held_out, nw)
            _, _, trace = brain.evaluate(res.params, brain.init_state(n_test), x, jax.random.fold_in(ctx.key, stream))
            correct, valid = role_answers(trace, info)
            m = {"correct": float(correct[valid].mean()),
                 "by_role": {r: float(correct[:, k][valid[:, k]].mean()) for k, r in enumerate(ROLES)},
                 "by_frame": {f: float(correct[info["template"] == i][valid[info["template"] == i]].mean())
                              for i, (f, _) in enumerate(TEMPLATES)},
                 "sentences_exact": float(np.all(correct | ~valid, axis=1).mean())}
            metrics[split] = m
            if held_out:
                self._role_example = (x, info, np.asarray(trace["bg.gate"]), np.asarray(trace["similarity"]))
        metrics["params"] = int(sum(brain.param_counts(res.params).values()))
        metrics["name_words"] = nw
        ho = metrics["held_out"]
        ctx.log(f"roles: held-out questions {ho['correct']:.3f} by role {ho['by_role']}")
        level = float(o["criterion"])
        if ctx.quick:
            passed = ho["correct"] >= level
            crit = f"quick: >= {level:.0%} of held-out role questions right"
        else:
            passed = all(v >= level for v in ho["by_role"].values())
            crit = (f">= {level:.0%} of held-out who-did-what-to-whom questions right for agent, patient and "
                    "recipient (name/role combinations never seen in training)")
        return passed, crit, metrics

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib.pyplot as plt

        ex = getattr(self, "_role_example", None)
        if ex is None:
            return
        x, info, gates, sim = ex
        n_names = sim.shape[-1]
        words = lexicon(n_names)
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        for ax, b in zip(axes, range(3)):
            toks = [words[int(np.argmax(x["word"][t, b]))] if x["word"][t, b].any() else "" for t in range(T_ROLES)]
            ax.imshow(gates[:, b].T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(T_ROLES))
            ax.set_xticklabels(toks, rotation=60, fontsize=7)
            ax.set_yticks(range(len(ROLES)))
            ax.set_yticklabels([f"r{k}" for k in range(len(ROLES))])
            ax.set_title(f"{TEMPLATES[info['template'][b]][0]} (held out)", fontsize=8)
        fig.suptitle("basal-ganglia gate over the role vectors, word by word", fontsize=9)
        fig.tight_layout()
        fig.savefig(ctx.figures / "role_gates.png", dpi=100)
        plt.close(fig)
        r = result.metrics.get("roles")
        if r:
            fig, ax = plt.subplots(figsize=(6, 3.4))
            frames = list(r["held_out"]["by_frame"])
            w = 0.4
            for i, split in enumerate(("train_combinations", "held_out")):
                ax.bar(np.arange(len(frames)) + (i - 0.5) * w, [r[split]["by_frame"][f] for f in frames], w,
                       label=split.replace("_", " "))
            ax.axhline(float(ctx.options["criterion"]), color="grey", ls=":")
            ax.set_xticks(range(len(frames)))
            ax.set_xticklabels(frames, rotation=30, fontsize=7)
            ax.set_ylabel("questions right")
            ax.set_ylim(0, 1.05)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(ctx.figures / "role_accuracy.png", dpi=100)
            plt.close(fig)


SCENARIO = BufferRouting()
