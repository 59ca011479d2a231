"""Closed-loop curricula (PsychRNN, Ehrlich et al. 2021): advance through stages when a metric passes a threshold.

A :class:`Curriculum` is a list of stages (any objects: tasks, or task
configurations of rising difficulty), a metric name, a threshold and a
direction.  Its position is plain JSON data (``state``), so it lives in the
``callback_state`` that :meth:`brainsim.scenario.RunContext.fit` checkpoints and
restores: a resumed run continues at the stage it had reached.

    cur = Curriculum([easy, medium, hard], metric="accuracy", threshold=0.9, patience=2)
    batch_fn = lambda step: cur.current.sample(rng, 32)
    def callback(step, metrics, params):
        acc = evaluate(params, cur.current)
        return cur.update(step, acc)          # {"curriculum_stage": k, ...}; logged in metrics.jsonl
    ctx.fit(..., callback=callback, callback_state=cur.state)

``update`` advances one stage after ``patience`` successive evaluations past the
threshold, and reports ``{"stop": True}`` once the last stage passes (when
``stop_at_end``).  The record it returns (stage index, stage name, metric)
goes into ``metrics.jsonl`` through the callback.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..errors import ScenarioError

__all__ = ["Curriculum"]


class Curriculum:
    """Stages advanced when ``metric`` passes ``threshold`` for ``patience`` successive evaluations.

    Args:
        stages: the stages, easiest first (at least one).
        metric: the metric's name (recorded with each update).
        threshold: the value to pass.
        mode: ``"max"`` (pass when value >= threshold, e.g. accuracy) or ``"min"`` (value <= threshold, e.g. loss).
        patience: successive passing evaluations needed to advance (>= 1).
        names: one label per stage (default ``stage0``, ``stage1``, ...).
        stop_at_end: ask training to stop once the last stage has passed.
        state: a dict to keep the position in (e.g. a ``callback_state`` restored from a checkpoint).
    """

    def __init__(self, stages: Sequence[Any], metric: str, threshold: float, *, mode: str = "max",
                 patience: int = 1, names: Optional[Sequence[str]] = None, stop_at_end: bool = True,
                 state: Optional[dict] = None):
        if not stages:
            raise ScenarioError("a curriculum needs at least one stage", where="curriculum.stages")
        if mode not in ("max", "min"):
            raise ScenarioError(f"curriculum mode must be 'max' or 'min'; got {mode!r}", where="curriculum.mode")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ScenarioError(f"curriculum patience must be an integer >= 1; got {patience!r}",
                                where="curriculum.patience")
        if names is not None and len(names) != len(stages):
            raise ScenarioError(f"{len(names)} stage names for {len(stages)} stages", where="curriculum.names")
        self.stages: List[Any] = list(stages)
        self.metric, self.threshold, self.mode, self.patience = str(metric), float(threshold), mode, patience
        self.names = [str(n) for n in names] if names is not None else [f"stage{i}" for i in range(len(stages))]
        self.stop_at_end = bool(stop_at_end)
        self.state: Dict[str, Any] = state if state is not None else {}
        self.state.setdefault("stage", 0)
        self.state.setdefault("streak", 0)
        self.state.setdefault("history", [])  # [[step, stage reached], ...]
        self.state.setdefault("finished", False)

    @property
    def stage(self) -> int:
        """Index of the current stage."""
        return int(self.state["stage"])

    @property
    def current(self) -> Any:
        """The current stage."""
        return self.stages[self.stage]

    @property
    def finished(self) -> bool:
        """True once the last stage has passed."""
        return bool(self.state["finished"])

    def passes(self, value: float) -> bool:
        return value >= self.threshold if self.mode == "max" else value <= self.threshold

    def update(self, step: int, value: float) -> dict:
        """Record an evaluation at ``step``; advance when due.

        Returns:
            ``{"curriculum_stage", "curriculum_name", "curriculum_<metric>"}`` (the stage after this
            update), plus ``"curriculum_advanced": True`` when it advanced and ``"stop": True`` when the
            last stage passed and ``stop_at_end``.
        """
        value = float(value)
        rec: Dict[str, Any] = {}
        if not self.finished:
            self.state["streak"] = self.state["streak"] + 1 if self.passes(value) else 0
            if self.state["streak"] >= self.patience:
                self.state["streak"] = 0
                if self.stage + 1 < len(self.stages):
                    self.state["stage"] = self.stage + 1
                    self.state["history"].append([int(step), self.stage])
                    rec["curriculum_advanced"] = True
                else:
                    self.state["finished"] = True
                    self.state["history"].append([int(step), len(self.stages)])
                    if self.stop_at_end:
                        rec["stop"] = True
        rec.update({"curriculum_stage": self.stage, "curriculum_name": self.names[self.stage],
                    f"curriculum_{self.metric}": value})
        return rec
