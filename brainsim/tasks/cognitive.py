"""Phase-structured cognitive tasks generated on the device (jit + vmap).

Each trial is ``Fixation >> Stimulus ... >> Response`` (see :mod:`brainsim.tasks.phases`).
Input unit 0 is the fixation cue (1 until the response phase starts: "go"); the
target is class 0 ("fixate") before the response phase and the correct choice
during it, so a trial's performance is read on the response phase
(``info["response"]``, ``[T, B]`` bool).  Mask: 1 on every step of the trial,
0 on padding (variable delays).

* ``dms``: delayed match-to-sample (Miller, Erickson & Desimone 1996): a sample
  item, a delay, a test item; answer match / non-match.
* ``change_detection``: the colour change-detection paradigm of Luck & Vogel
  (1997): N coloured items at N of L locations, a delay, the same locations
  again with (p = 0.5) one item's colour changed; answer same / changed.
  Cowan's K = N (H - FA) measures the capacity (Cowan 2001).
* ``context_dm``: context-dependent integration of Mante, Sussillo, Shenoy &
  Newsome (2013): two noisy evidence streams (motion, colour) and a context cue;
  answer the sign of the cued stream, ignoring the other.
"""

from __future__ import annotations

from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ScenarioError
from .base import Batch
from .jax_base import Draws, JaxTask, TrialData, _check_int, one_hot, padded, range_option
from .phases import Delay, Fixation, Response, Stimulus, Trial
from .registry import TaskOption, register_task

__all__ = ["DelayedMatchToSample", "ChangeDetection", "ContextDM", "response_accuracy"]

FIXATE = 0


def _fixation_cue(phase: jax.Array, response: int) -> jax.Array:
    """``[T, 1]``: 1 before the response phase, 0 from it on (and on padding)."""
    return (phase < response).astype(jnp.float32)[:, None]


def _choice_targets(phase: jax.Array, response: int, choice: jax.Array, n_out: int) -> jax.Array:
    """``[T, n_out]`` one-hot: fixate before the response phase, ``choice`` during it, zeros on padding."""
    cls = jnp.where(phase == response, choice, FIXATE)
    return jnp.where((phase <= response)[:, None], one_hot(cls, n_out), 0.0)


def _noise(d: Draws, shape: Tuple[int, ...], sigma: float) -> jax.Array:
    return sigma * d.normal(shape) if sigma > 0 else jnp.zeros(shape, jnp.float32)


def response_accuracy(outputs, batch) -> jax.Array:
    """Fraction of trials answered correctly: the argmax of ``outputs`` on the trial's response steps
    (their majority, ties to the target) equals the target class.

    Args:
        outputs: ``[T, B, target_dim]`` scores.
        batch: the :class:`~brainsim.tasks.base.Batch` (uses ``targets`` and ``info["response"]``).

    Returns:
        float32 scalar.
    """
    resp = jnp.asarray(batch.info["response"])
    correct = (jnp.argmax(outputs, -1) == jnp.argmax(batch.targets, -1)) & resp
    return jnp.mean(2 * correct.sum(0) >= resp.sum(0))


class _PhasedTask(JaxTask):
    """Shared set-up: fixation / stimulus / delay / response durations and input noise."""

    def _phases(self, fixation, stimulus, delay, response, extra=(), stim_name="sample") -> Trial:
        trial = Fixation(range_option(fixation, "fixation")) >> Stimulus(range_option(stimulus, stim_name, 1), stim_name) \
            >> Delay(range_option(delay, "delay"))
        for ph in extra:
            trial = trial >> ph
        return trial >> Response(range_option(response, "response", 1))


@register_task("dms")
class DelayedMatchToSample(_PhasedTask):
    """Delayed match-to-sample: sample item, delay, test item; answer match or non-match."""

    options = {
        "items": TaskOption(int, 8, "number of distinct items (one-hot stimulus units)"),
        "fixation": TaskOption((int, tuple), 2, "fixation steps (int or (lo, hi))"),
        "sample": TaskOption((int, tuple), 3, "sample steps"),
        "delay": TaskOption((int, tuple), (2, 6), "delay steps (drawn per trial when a range)"),
        "test": TaskOption((int, tuple), 3, "test-item steps"),
        "response": TaskOption((int, tuple), 2, "response steps"),
        "noise": TaskOption(float, 0.0, "std of Gaussian noise on the stimulus units"),
    }

    def __init__(self, items=8, fixation=2, sample=3, delay=(2, 6), test=3, response=2, noise=0.0):
        self.items = _check_int(items, "items", 2)
        self.fixation, self.sample_len, self.delay, self.test, self.response, self.noise = \
            fixation, sample, delay, test, response, float(noise)
        self.phases = self._phases(fixation, sample, delay, response,
                                   extra=(Stimulus(range_option(test, "test", 1), "test"),))
        self.max_len = self.phases.max_len
        self.input_dim, self.target_dim = 1 + self.items, 3  # [fixate, match, non-match]

    def trial(self, d: Draws):
        phase = self.phases.phase_index(self.phases.durations(d))
        s_ph, t_ph, r_ph = self.phases.index("sample"), self.phases.index("test"), self.phases.index("response")
        sample = d.randint((), 0, self.items)
        match = d.bernoulli(0.5)
        other = (sample + d.randint((), 1, self.items)) % self.items  # any other item, uniform
        test = jnp.where(match, sample, other)
        shown = jnp.where(phase == s_ph, sample, jnp.where(phase == t_ph, test, -1))
        stim = one_hot(shown, self.items) + _noise(d, (self.max_len, self.items), self.noise) \
            * (phase < self.phases.index("response"))[:, None]
        inputs = jnp.concatenate([_fixation_cue(phase, r_ph), stim], -1)
        choice = jnp.where(match, 1, 2)
        return TrialData(inputs, _choice_targets(phase, r_ph, choice, 3), padded(phase < len(self.phases.phases)),
                         {"phase": phase, "response": phase == r_ph},
                         {"sample": sample, "test": test, "match": match})


@register_task("change_detection")
class ChangeDetection(_PhasedTask):
    """Change detection (Luck & Vogel 1997): N coloured items, delay, same or one colour changed."""

    options = {
        "locations": TaskOption(int, 10, "number of item locations L"),
        "colors": TaskOption(int, 8, "number of colours C (one-hot per location)"),
        "set_size": TaskOption((int, tuple), (1, 10), "items N shown (int or (lo, hi), <= locations)"),
        "fixation": TaskOption((int, tuple), 1, "fixation steps"),
        "sample": TaskOption((int, tuple), 2, "sample-array steps"),
        "delay": TaskOption((int, tuple), 2, "delay steps"),
        "test": TaskOption((int, tuple), 2, "test-array steps"),
        "response": TaskOption((int, tuple), 1, "response steps"),
        "change_prob": TaskOption(float, 0.5, "probability that one item changes colour"),
    }

    def __init__(self, locations=10, colors=8, set_size=(1, 10), fixation=1, sample=2, delay=2, test=2, response=1,
                 change_prob=0.5):
        self.locations = _check_int(locations, "locations", 1)
        self.colors = _check_int(colors, "colors", 2)
        self.set_size = range_option(set_size, "set_size", 1)
        if self.set_size[1] > self.locations:
            raise ScenarioError(f"set_size {set_size!r} exceeds locations={self.locations}", where="task.set_size",
                                hint="raise locations or lower set_size")
        if not 0.0 <= float(change_prob) <= 1.0:
            raise ScenarioError(f"change_prob must be in [0, 1]; got {change_prob!r}", where="task.change_prob")
        self.change_prob = float(change_prob)
        self.fixation, self.sample_len, self.delay, self.test, self.response = fixation, sample, delay, test, response
        self.phases = self._phases(fixation, sample, delay, response,
                                   extra=(Stimulus(range_option(test, "test", 1), "test"),))
        self.max_len = self.phases.max_len
        self.input_dim, self.target_dim = 1 + self.locations * self.colors, 3  # [fixate, same, change]

    def arrays(self, d: Draws) -> dict:
        """The trial's displays: ``n``, ``occupied [L]``, ``sample_colors [L]``, ``test_colors [L]`` (-1 empty),
        ``change``, ``changed_location``."""
        L, C = self.locations, self.colors
        n = d.randint((), self.set_size[0], self.set_size[1] + 1)
        rank = jnp.argsort(d.uniform((L,)))  # a random ordering of the locations
        occupied = jnp.zeros(L, bool).at[rank].set(jnp.arange(L) < n)
        colors = d.randint((L,), 0, C)
        sample = jnp.where(occupied, colors, -1)
        change = d.bernoulli(self.change_prob)
        which = rank[d.randint((), 0, n)]  # one of the occupied locations, uniform
        new = (colors[which] + d.randint((), 1, C)) % C  # a different colour
        test = jnp.where(change, sample.at[which].set(new), sample)
        return {"n": n, "occupied": occupied, "sample_colors": sample, "test_colors": test, "change": change,
                "changed_location": jnp.where(change, which, -1)}

    def trial(self, d: Draws):
        phase = self.phases.phase_index(self.phases.durations(d))
        a = self.arrays(d)
        s_ph, t_ph, r_ph = self.phases.index("sample"), self.phases.index("test"), self.phases.index("response")
        show_s = one_hot(a["sample_colors"], self.colors).reshape(-1)
        show_t = one_hot(a["test_colors"], self.colors).reshape(-1)
        stim = jnp.where((phase == s_ph)[:, None], show_s, 0.0) + jnp.where((phase == t_ph)[:, None], show_t, 0.0)
        inputs = jnp.concatenate([_fixation_cue(phase, r_ph), stim], -1)
        choice = jnp.where(a["change"], 2, 1)
        return TrialData(inputs, _choice_targets(phase, r_ph, choice, 3), padded(phase < len(self.phases.phases)),
                         {"phase": phase, "response": phase == r_ph}, a)


@register_task("context_dm")
class ContextDM(_PhasedTask):
    """Context-dependent decision making (Mante et al. 2013): report the sign of the cued evidence stream."""

    options = {
        "coherences": TaskOption(tuple, (0.05, 0.1, 0.2, 0.4), "absolute coherences drawn per stream"),
        "noise": TaskOption(float, 0.5, "std of the per-step Gaussian noise on each evidence unit"),
        "fixation": TaskOption((int, tuple), 2, "fixation steps (context cue already on)"),
        "stimulus": TaskOption((int, tuple), 10, "evidence steps"),
        "delay": TaskOption((int, tuple), 0, "delay steps between evidence and response"),
        "response": TaskOption((int, tuple), 2, "response steps"),
    }

    def __init__(self, coherences=(0.05, 0.1, 0.2, 0.4), noise=0.5, fixation=2, stimulus=10, delay=0, response=2):
        coh = tuple(float(c) for c in coherences) if isinstance(coherences, (tuple, list)) else ()
        if not coh or any(c <= 0 for c in coh):
            raise ScenarioError(f"coherences must be a non-empty tuple of positive numbers; got {coherences!r}",
                                where="task.coherences")
        self.coherences, self.noise = coh, float(noise)
        self.fixation, self.stimulus, self.delay, self.response = fixation, stimulus, delay, response
        self.phases = self._phases(fixation, stimulus, delay, response, stim_name="stimulus")
        self.max_len = self.phases.max_len
        # [fixation, context motion, context colour, motion +, motion -, colour +, colour -]
        self.input_dim, self.target_dim = 7, 3  # [fixate, choice +, choice -]

    def trial(self, d: Draws):
        phase = self.phases.phase_index(self.phases.durations(d))
        s_ph, r_ph = self.phases.index("stimulus"), self.phases.index("response")
        context = d.randint((), 0, 2)  # 0: motion, 1: colour
        coh = jnp.asarray(self.coherences)[d.randint((2,), 0, len(self.coherences))]
        signed = coh * jnp.where(d.bernoulli(0.5, (2,)), 1.0, -1.0)  # [motion, colour]
        means = 0.5 + 0.5 * jnp.stack([signed[0], -signed[0], signed[1], -signed[1]])
        evidence = (means + _noise(d, (self.max_len, 4), self.noise)) * (phase == s_ph)[:, None]
        ctx = jnp.where((phase < len(self.phases.phases))[:, None], one_hot(context, 2), 0.0)
        inputs = jnp.concatenate([_fixation_cue(phase, r_ph), ctx, evidence], -1)
        relevant = signed[context]
        choice = jnp.where(relevant > 0, 1, 2)
        return TrialData(inputs, _choice_targets(phase, r_ph, choice, 3), padded(phase < len(self.phases.phases)),
                         {"phase": phase, "response": phase == r_ph},
                         {"context": context, "coherence": signed, "choice": choice})


@register_task("conditioning")
class Conditioning(JaxTask):
    """Pavlovian conditioning with a tapped-delay-line cue (Schultz, Dayan & Montague 1997)."""

    options = {
        "csc": TaskOption(int, 6, "units of the complete serial compound: one per step since the cue"),
        "delay": TaskOption(int, 4, "steps from the cue to the reward (< csc)"),
        "max_len": TaskOption(int, 14, "trial length T"),
        "cue_onset": TaskOption((int, tuple), (1, 4), "cue step (int or (lo, hi)); unpredictable when a range"),
        "probe": TaskOption(str, "paired", "'paired' (cue + reward), 'omitted' (cue, no reward), 'unexpected' "
                                          "(reward, no cue) or 'mixed' (paired, with p_probe of each probe)"),
        "p_probe": TaskOption(float, 0.0, "with probe='mixed': probability of each probe trial type"),
    }
    PROBES = ("paired", "omitted", "unexpected")

    def __init__(self, csc=6, delay=4, max_len=14, cue_onset=(1, 4), probe="paired", p_probe=0.0):
        self.csc, self.delay, self.max_len = _check_int(csc, "csc"), _check_int(delay, "delay"), \
            _check_int(max_len, "max_len")
        self.cue_onset = range_option(cue_onset, "cue_onset")
        if self.delay >= self.csc:
            raise ScenarioError(f"delay={delay} must be < csc={csc}: the reward must fall inside the cue's "
                                "delay line", where="task.delay", hint="raise csc")
        if self.cue_onset[1] + self.csc > self.max_len:
            raise ScenarioError(f"cue_onset {cue_onset!r} + csc {csc} exceeds max_len={max_len}",
                                where="task.max_len", hint=f"max_len >= {self.cue_onset[1] + self.csc}")
        if probe not in self.PROBES + ("mixed",):
            raise ScenarioError(f"probe must be one of {self.PROBES + ('mixed',)}; got {probe!r}", where="task.probe")
        self.probe, self.p_probe = probe, float(p_probe)
        self.input_dim, self.target_dim = self.csc + 1, 1  # [csc..., reward]; target: the reward (unused by TD)

    def trial(self, d: Draws):
        t = jnp.arange(self.max_len)
        onset = d.randint((), self.cue_onset[0], self.cue_onset[1] + 1)
        if self.probe == "mixed":
            u = d.uniform(())
            kind = jnp.where(u < self.p_probe, 1, jnp.where(u < 2 * self.p_probe, 2, 0))
        else:
            kind = jnp.int32(self.PROBES.index(self.probe))
        since = t - onset
        cued = kind != 2
        csc = one_hot(jnp.where(cued & (since >= 0) & (since < self.csc), since, -1), self.csc)
        reward = ((since == self.delay) & (kind != 1)).astype(jnp.float32)[:, None]
        return TrialData(jnp.concatenate([csc, reward], -1), reward, jnp.ones((self.max_len, 1), jnp.float32),
                         {"reward": reward[:, 0]}, {"onset": onset, "kind": kind})

    def probe_batch(self, onset: int) -> Batch:
        """The three trial types with the cue at ``onset`` (host numpy, columns ``PROBES`` in order), built
        by the same rule as :meth:`trial`: for evaluation and figures."""
        T, B = self.max_len, len(self.PROBES)
        x = np.zeros((T, B, self.input_dim), np.float32)
        for b, kind in enumerate(self.PROBES):
            if kind != "unexpected":
                for j in range(self.csc):
                    if onset + j < T:
                        x[onset + j, b, j] = 1.0
            if kind != "omitted" and onset + self.delay < T:
                x[onset + self.delay, b, self.csc] = 1.0
        r = x[..., self.csc:]
        return Batch(x, r.copy(), np.ones((T, B, 1), np.float32), {"reward": r[..., 0],
                                                                    "kind": np.arange(B, dtype=np.int32)})
