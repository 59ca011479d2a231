"""sequence_replay: a stored episode replays in order, forward and, after reward, in reverse.

Published anchor: Foster & Wilson (2006) Nature 440:680 — after a rat runs a track and is
rewarded, place-cell sequences replay the run in REVERSE order during awake rest; forward
replay of trajectories (Diba & Buzsaki 2007 Nat Neurosci 10; Lee & Wilson 2002 Neuron 36, sleep).
Heteroassociative CA3 (pattern t -> t + 1) stores sequences (Levy 1996 Hippocampus 6; Jensen &
Lisman 1996).

Setup: the ``hippocampus`` area in ``sequence: true`` mode stores ``episodes`` episodes of random
+-1 "place" patterns (lengths ``lengths``, one state per step; consecutive writes chain, one idle
step ends an episode).  Then (1) ``replay`` on for ``forward_steps`` steps: each replay event
(a run of non-silent steps) is decoded state by state (the stored state of largest overlap);
(2) reward at the end of the last episode: ``replay`` and ``reverse`` on for L + 1 steps;
(3) the ``next`` port (the heteroassociative read) from cues with ``cue_noise`` of the bits
flipped must predict the successor state.

Pass criterion (quick and full): every forward event is a whole stored episode in order
(all transitions +1 within one episode), the reverse event is the rewarded episode from its last
state back to its first, and the successor prediction is correct (decoded state = t + 1) for
>= 90 % of noisy cues.  Full mode: 4 episodes of 8-12 states; quick: 2 episodes of 8 and 10.
Figure: ``figures/replay_order.png`` decoded position vs replay step (forward and reverse).
"""

from __future__ import annotations

import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.scenarios._memory import area_runner, flip, pad, patterns


class SequenceReplay(Scenario):
    name = "sequence_replay"
    description = "heteroassociative CA3 sequences: forward replay, reverse replay after reward"
    anchor = "Foster & Wilson (2006) Nature 440:680; Diba & Buzsaki (2007) Nat Neurosci 10"
    defaults = {"size": 64, "lengths": [8, 10, 12, 9], "forward_steps": 60, "cue_noise": 0.2}
    quick = {"lengths": [8, 10], "forward_steps": 30}
    option_docs = {  # `brainsim list sequence_replay`
        "size": "units of each place pattern",
        "lengths": "states of each stored episode (one episode per entry)",
        "forward_steps": "steps with replay on (forward replay events are decoded)",
        "cue_noise": "fraction of bits flipped in the cues of the successor test"}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        n, lengths = int(o["size"]), [int(x) for x in o["lengths"]]
        rng = ctx.rng(1)
        eps = [patterns(rng, L, n) for L in lengths]
        states = np.concatenate(eps)
        label = np.array([(e, t) for e, L in enumerate(lengths) for t in range(L)])  # (episode, position)
        area, run = area_runner(size=n, slots=len(states) + 4, sequence=True)

        # storage: consecutive writes chain within an episode; an idle step separates episodes
        store, write = [], []
        for ep in eps:
            store += list(ep) + [np.zeros(n)]
            write += [1.0] * len(ep) + [0.0]
        L_last = lengths[-1]
        fwd, rev = int(o["forward_steps"]), L_last + 1
        cues = flip(rng, states, float(o["cue_noise"]))
        T = len(store) + fwd + rev + len(cues)
        s0 = len(store)
        seq = {"store": pad(np.array(store), T), "write": pad(np.array(write)[:, None], T),
               "replay": pad(np.ones((fwd + rev, 1)), T - s0), "reverse": pad(np.ones((rev, 1)), T - s0 - fwd),
               "cue": pad(cues, T - s0 - fwd - rev)}
        seq["replay"] = np.concatenate([np.zeros((s0, 1), np.float32), seq["replay"]])
        seq["reverse"] = np.concatenate([np.zeros((s0 + fwd, 1), np.float32), seq["reverse"]])
        seq["cue"] = np.concatenate([np.zeros((s0 + fwd + rev, n), np.float32), seq["cue"]])
        _, out = run(seq, ctx.seed)
        replayed = np.asarray(out["replayed"])

        def decode(x):  # index into `states` of the best-matching stored state, -1 for silence
            return np.where(np.any(x != 0, axis=1), np.argmax(x @ states.T, axis=1), -1)

        f_idx = decode(replayed[s0:s0 + fwd])
        r_idx = decode(replayed[s0 + fwd:s0 + fwd + rev])
        events = _events(f_idx)
        whole = [bool(_is_episode(ev, label, lengths)) for ev in events]
        last_ep = [i for i in range(len(states)) if label[i, 0] == len(lengths) - 1]
        rev_event = [int(i) for i in r_idx if i >= 0]
        reverse_ok = rev_event == last_ep[::-1]
        # successor prediction from noisy cues (the last state of an episode has no successor)
        nxt = np.asarray(out["next"][s0 + fwd + rev:s0 + fwd + rev + len(cues)])
        has_next = np.array([t + 1 < lengths[e] for e, t in label])
        pred = decode(nxt)
        correct = pred[has_next] == np.arange(len(states))[has_next] + 1
        metrics = {"forward_events": [[label[i].tolist() for i in ev] for ev in events],
                   "forward_events_whole_and_ordered": whole,
                   "reverse_event": [label[i].tolist() for i in rev_event], "reverse_ok": bool(reverse_ok),
                   "next_accuracy": float(np.mean(correct)),
                   "silent_next_at_episode_ends": bool(np.all(np.abs(nxt[~has_next]).sum(1) < 1e-3))}
        ctx.log(f"forward events {len(events)} (whole+ordered: {sum(whole)}), reverse ok {reverse_ok}, "
                f"next accuracy {metrics['next_accuracy']:.3f}")
        _figure(ctx, f_idx, r_idx, label)
        passed = len(events) >= 2 and all(whole) and reverse_ok and metrics["next_accuracy"] >= 0.9
        crit = ("every forward replay event is a whole stored episode in order, reverse replay after reward "
                "runs the rewarded episode last -> first, successor predicted for >= 90 % of noisy cues")
        return Result(bool(passed), crit, metrics)


def _events(idx: np.ndarray) -> list:
    """Runs of non-silent (>= 0) decoded indices; a run cut off by the end of the window is dropped."""
    out, cur = [], []
    for i in idx:
        if i >= 0:
            cur.append(int(i))
        elif cur:
            out.append(cur)
            cur = []
    return out


def _is_episode(ev: list, label: np.ndarray, lengths: list) -> bool:
    e = label[ev[0], 0]
    return [tuple(label[i]) for i in ev] == [(e, t) for t in range(lengths[e])]


def _figure(ctx: RunContext, f_idx, r_idx, label) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    for ax, idx, title in ((a, f_idx, "forward replay (sleep / rest)"), (b, r_idx, "reverse replay after reward")):
        t = np.nonzero(idx >= 0)[0]
        ax.scatter(t, label[idx[t], 1], c=label[idx[t], 0], cmap="tab10", vmin=0, vmax=9, s=18)
        ax.set(xlabel="replay step", ylabel="position in episode", title=title)
    fig.tight_layout()
    fig.savefig(ctx.figures / "replay_order.png", dpi=100)
    plt.close(fig)


SCENARIO = SequenceReplay()
