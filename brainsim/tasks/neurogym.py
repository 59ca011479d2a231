"""The NeuroGym client: any NeuroGym environment (Molano-Mazon et al. 2022) as a brainsim task.

``NeuroGymTask("PerceptualDecisionMaking-v0", env_kwargs={"dt": 100})`` (or
``get_task("neurogym", env=...)``) turns trials of a NeuroGym environment, or
of any gymnasium environment with NeuroGym's trial conventions (``new_trial()``
fills ``ob`` ``[t, obs]`` and ``gt`` ``[t]``; a 1-D ``Box`` observation space;
a ``Discrete`` action space), into padded, masked batches:

* ``inputs`` ``[T, B, obs + n_tasks]``: the observation, then (several envs, or
  ``task_input=True``) the task id one-hot, for multi-task training;
  :attr:`NeuroGymTask.input_names` names the sub-spaces (``fixation``,
  ``stimulus``, ... from the env's ``observation_space.name``, and ``task``);
* ``targets`` ``[T, B, actions]``: one-hot ground-truth action (zeros on padding);
* ``mask`` ``[T, B, 1]``: 1 on the trial's steps (``mask="decision"``: only where
  the ground truth is not the fixation action, plus ``fixation_weight`` elsewhere);
* ``info``: ``gt`` ``[T, B]`` (-1 padding), ``task`` ``[B]``, ``lengths`` ``[B]``.

One batch element holds one trial, padded to ``T`` chosen from the trial-length
statistics (:meth:`NeuroGymTask.length_stats`: mean, 95th percentile, max over
``stats_trials`` sampled trials): ``seq_len="max"`` (default), ``"p95"``,
``"mean"`` or an int.  A trial longer than ``T`` is redrawn (the statistics say
how often: ``stats["over"]``).  Trials come from the env's own generator, seeded
from the numpy generator passed to :meth:`sample` once per batch, so a batch is
reproducible from ``rng``'s state (checkpointable) like every numpy task.

:func:`trial_performance` is NeuroGym's measure: the argmax of the output at
the trial's last step equals the ground truth there.
"""

from __future__ import annotations

import difflib
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import ScenarioError
from .base import Batch, Task
from .registry import TaskOption, register_task

__all__ = ["NeuroGymTask", "neurogym_env_ids", "make_env", "trial_performance", "performance_by_task"]

_HINT_INSTALL = "install the optional extra: pip install 'brainsim[neurogym]'"


def _ngym():
    try:
        import neurogym  # noqa: F401  (optional dependency)
        from neurogym.envs.registration import all_envs
    except ImportError:
        raise ScenarioError("the NeuroGym client needs the neurogym package, which is not installed",
                            where="task.env", hint=_HINT_INSTALL) from None
    import neurogym as ngym
    return ngym, all_envs


def neurogym_env_ids() -> List[str]:
    """Every NeuroGym environment id, collections included (e.g. ``yang19.dms-v0``)."""
    _, all_envs = _ngym()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sorted(set(all_envs()) | set(all_envs(collections=True)))


def make_env(env_id: str, **kwargs):
    """``neurogym.make(env_id, **kwargs)`` with brainsim errors.

    Raises:
        ScenarioError: an unknown id (listing close matches), or options the env rejects.
    """
    ngym, _ = _ngym()
    ids = neurogym_env_ids()
    if env_id not in ids:
        close = difflib.get_close_matches(env_id, ids, n=5, cutoff=0.5) or \
            [i for i in ids if env_id.lower().split("-")[0] in i.lower()][:5]
        raise ScenarioError(f"unknown NeuroGym environment {env_id!r}" +
                            (f"; close matches: {', '.join(close)}" if close else ""), where="task.env",
                            hint=f"{len(ids)} environments, e.g. {', '.join(ids[:4])}; list them with "
                                 "brainsim.tasks.neurogym.neurogym_env_ids()")
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ngym.make(env_id, **kwargs)
    except TypeError as e:
        raise ScenarioError(f"NeuroGym environment {env_id!r} rejects env_kwargs {kwargs!r}: {e}",
                            where="task.env_kwargs", hint="see the environment's constructor arguments") from None


def _spaces(env, label: str):
    """(obs_dim, n_actions, observation names) of an env, or a ScenarioError saying why it cannot be mapped."""
    import gymnasium as gym

    u = env.unwrapped
    if not callable(getattr(u, "new_trial", None)):
        raise ScenarioError(f"environment {label} has no new_trial(): it does not follow NeuroGym's trial "
                            "conventions", where="task.env",
                            hint="an env needs new_trial() filling ob [t, obs] and gt [t] (neurogym.TrialEnv)")
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        raise ScenarioError(f"environment {label}: observation space {obs} cannot be mapped; expected a 1-D Box",
                            where="task.env", hint="flatten the observations with a gymnasium wrapper")
    if not isinstance(act, gym.spaces.Discrete):
        raise ScenarioError(f"environment {label}: action space {act} is not Discrete; brainsim maps discrete "
                            "ground-truth actions to one-hot targets and has no target for continuous actions",
                            where="task.env", hint="choose an environment with a Discrete action space")
    names = getattr(obs, "name", None) or {}
    return int(obs.shape[0]), int(act.n), names


def _indices(v) -> List[int]:
    return [int(i) for i in np.atleast_1d(np.asarray(list(v) if isinstance(v, range) else v))]


@register_task("neurogym")
class NeuroGymTask(Task):
    """Any NeuroGym environment by id (several ids: interleaved multi-task trials with a task-id input)."""

    kind = "neurogym"
    options = {
        "env": TaskOption((str, tuple, list, object), "PerceptualDecisionMaking-v0",
                          "NeuroGym env id, a list of ids (multi-task), or an env instance"),
        "env_kwargs": TaskOption(dict, None, "keyword arguments for neurogym.make, e.g. {'dt': 100}"),
        "seq_len": TaskOption((int, str), "max", "padded length T: an int, or 'max' / 'p95' / 'mean' of trial lengths"),
        "task_input": TaskOption((bool, type(None)), None, "append the task id one-hot (default: when several envs)"),
        "stats_trials": TaskOption(int, 500, "trials sampled per env for the length statistics"),
        "mask": TaskOption(str, "all", "'all' trial steps, or 'decision' (gt != fixation; others get fixation_weight)"),
        "fixation_weight": TaskOption(float, 1.0, "mask value of fixation steps when mask='decision'"),
        "seed": TaskOption(int, 0, "seed of the envs' generators for the length statistics"),
        "task_slots": TaskOption((int, type(None)), None, "width of the task-id one-hot (default: the number of envs)"),
    }

    def __init__(self, env: Any = "PerceptualDecisionMaking-v0", env_kwargs: Optional[dict] = None,
                 seq_len: Any = "max", task_input: Optional[bool] = None, stats_trials: int = 500,
                 mask: str = "all", fixation_weight: float = 1.0, seed: int = 0, task_slots: Optional[int] = None):
        ids = list(env) if isinstance(env, (list, tuple)) else [env]
        if not ids:
            raise ScenarioError("env is an empty list", where="task.env", hint="give at least one NeuroGym env id")
        kwargs = dict(env_kwargs or {})
        self.env_ids = [e if isinstance(e, str) else type(getattr(e, "unwrapped", e)).__name__ for e in ids]
        self.envs = [make_env(e, **kwargs) if isinstance(e, str) else e for e in ids]
        dims = [_spaces(e, repr(i)) for e, i in zip(self.envs, self.env_ids)]
        if mask not in ("all", "decision"):
            raise ScenarioError(f"mask must be 'all' or 'decision'; got {mask!r}", where="task.mask")
        self.mask_mode, self.fixation_weight = mask, float(fixation_weight)
        self.obs_dim = max(d[0] for d in dims)
        self.target_dim = max(d[1] for d in dims)
        self.task_input = len(ids) > 1 if task_input is None else bool(task_input)
        self.n_tasks = len(ids)
        self.task_slots = self.n_tasks if task_slots is None else int(task_slots)
        if self.task_slots < self.n_tasks:
            raise ScenarioError(f"task_slots={task_slots} is fewer than the {self.n_tasks} envs", where="task.task_slots")
        self.input_dim = self.obs_dim + (self.task_slots if self.task_input else 0)
        self.input_names = self._input_names(dims[0][2])
        for i, e in enumerate(self.envs):
            e.unwrapped.seed(int(seed) + i)
        self.stats = [self.length_stats(e, int(stats_trials)) for e in self.envs]
        self.max_len = self._choose_len(seq_len)
        for s in self.stats:
            s["over"] = float(np.mean(np.asarray(s.pop("_lengths")) > self.max_len))

    # ---------------------------------------------------------------- set-up phases

    def _input_names(self, names: dict) -> Dict[str, List[int]]:
        out = {str(k): _indices(v) for k, v in names.items()}
        if not out:
            out = {"observation": list(range(self.obs_dim))}
        if self.task_input:
            out["task"] = list(range(self.obs_dim, self.obs_dim + self.task_slots))
        return out

    @staticmethod
    def length_stats(env, n: int) -> dict:
        """Trial-length statistics of ``env`` over ``n`` sampled trials: mean, p95, max (steps)."""
        if n < 1:
            raise ScenarioError(f"stats_trials must be >= 1; got {n}", where="task.stats_trials")
        lengths = []
        for _ in range(n):
            env.unwrapped.new_trial()
            ob = getattr(env.unwrapped, "ob", None)
            if ob is None or getattr(env.unwrapped, "gt", None) is None:
                raise ScenarioError("environment's new_trial() set no ob / gt arrays (NeuroGym's trial conventions)",
                                    where="task.env", hint="fill self.ob [t, obs] and self.gt [t] in new_trial")
            lengths.append(int(np.asarray(ob).shape[0]))
        a = np.asarray(lengths)
        return {"mean": float(a.mean()), "p95": float(np.percentile(a, 95)), "max": int(a.max()),
                "min": int(a.min()), "_lengths": lengths}

    def _choose_len(self, seq_len) -> int:
        if isinstance(seq_len, (int, np.integer)) and not isinstance(seq_len, bool):
            if seq_len < 1:
                raise ScenarioError(f"seq_len must be >= 1; got {seq_len}", where="task.seq_len")
            return int(seq_len)
        keys = {"max": "max", "p95": "p95", "mean": "mean"}
        if seq_len not in keys:
            raise ScenarioError(f"seq_len must be an int or one of 'max', 'p95', 'mean'; got {seq_len!r}",
                                where="task.seq_len")
        return int(np.ceil(max(s[keys[seq_len]] for s in self.stats)))

    # ---------------------------------------------------------------- sampling

    def _trial(self, env, T: int):
        """One trial of at most ``T`` steps (longer ones are redrawn): ``(ob [t, obs], gt [t])``."""
        for _ in range(1000):
            env.unwrapped.new_trial()
            ob, gt = np.asarray(env.unwrapped.ob, np.float32), np.asarray(env.unwrapped.gt)
            if ob.shape[0] <= T:
                if gt.ndim != 1:
                    raise ScenarioError(f"environment gt has shape {gt.shape}; expected [t] action indices",
                                        where="task.env")
                return ob, gt.astype(np.int64)
        raise ScenarioError(f"1000 trials in a row were longer than seq_len={T}", where="task.seq_len",
                            hint="use seq_len='max'")

    def sample(self, rng: np.random.Generator, batch: int, task: Optional[int] = None) -> Batch:
        """``batch`` trials (tasks drawn uniformly when several), padded to :attr:`max_len`.

        Args:
            rng: numpy generator: draws the task of each trial and seeds every env once per batch.
            batch: ``B`` >= 1.
            task: draw every trial from env number ``task`` (e.g. sequential training, per-task tests).
        """
        if not isinstance(rng, np.random.Generator):
            raise ScenarioError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}",
                                hint="use numpy.random.default_rng(seed)")
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ScenarioError(f"batch must be a positive integer; got {batch!r}", where="task.batch")
        T, B = self.max_len, int(batch)
        for e in self.envs:
            e.unwrapped.seed(int(rng.integers(0, 2**31 - 1)))
        if task is not None and not (isinstance(task, (int, np.integer)) and 0 <= task < self.n_tasks):
            raise ScenarioError(f"task must be an env index in 0..{self.n_tasks - 1}; got {task!r}", where="task")
        task = rng.integers(0, self.n_tasks, size=B) if task is None else np.full(B, int(task))
        inputs = np.zeros((T, B, self.input_dim), np.float32)
        gt_all = np.full((T, B), -1, np.int64)
        lengths = np.zeros(B, np.int32)
        for b in range(B):
            ob, gt = self._trial(self.envs[task[b]], T)
            n = ob.shape[0]
            inputs[:n, b, :ob.shape[1]] = ob
            if self.task_input:
                inputs[:n, b, self.obs_dim + task[b]] = 1.0
            gt_all[:n, b] = gt
            lengths[b] = n
        valid = gt_all >= 0
        targets = np.where(valid[..., None], np.eye(self.target_dim, dtype=np.float32)[np.maximum(gt_all, 0)], 0.0)
        mask = valid.astype(np.float32)
        if self.mask_mode == "decision":
            mask = np.where(gt_all > 0, 1.0, np.where(valid, self.fixation_weight, 0.0)).astype(np.float32)
        return Batch(inputs=inputs, targets=targets.astype(np.float32), mask=mask[..., None],
                     info={"gt": gt_all, "task": task.astype(np.int32), "lengths": lengths})

    def __repr__(self) -> str:
        return f"NeuroGymTask(env={self.env_ids!r}, max_len={self.max_len}, input_dim={self.input_dim})"


def trial_performance(outputs, batch) -> np.ndarray:
    """``[B]`` bool: the output's argmax at each trial's last step equals the ground truth there (NeuroGym)."""
    out = np.asarray(outputs)
    last = np.asarray(batch.info["lengths"]).astype(int) - 1
    b = np.arange(out.shape[1])
    return out[last, b].argmax(-1) == np.asarray(batch.info["gt"])[last, b]


def performance_by_task(outputs, batch, names: Sequence[str]) -> Dict[str, float]:
    """Mean :func:`trial_performance` per task (tasks absent from the batch are omitted)."""
    ok, task = trial_performance(outputs, batch), np.asarray(batch.info["task"])
    return {n: float(ok[task == i].mean()) for i, n in enumerate(names) if np.any(task == i)}
