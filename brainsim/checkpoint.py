"""Checkpoints: exact, atomic, rotating snapshots of a training run (orbax-checkpoint).

A checkpoint holds everything :func:`brainsim.train.fit` needs to continue a
run as if it had never stopped:

* **arrays** — the params, every area's optimiser state, the brain state (when a
  loop carries one) and the run's PRNG key (as ``key_data``), stored leaf by
  leaf as numpy arrays (``{"00000": ..., "00001": ...}``, bit-exact, dtypes kept);
* **meta** (JSON) — the step (the number of completed training steps), the
  position of every numpy data generator (``rng.bit_generator.state``), the
  callback's state (a scenario's bookkeeping, e.g. "criterion reached at"),
  the leaf paths/shapes/dtypes (checked on restore), ``done``/``stopped`` flags
  and the accumulated training wall time.

Layout of a run directory (one sub-directory per trained model, so a scenario
that trains several wirings in turn resumes the one it was training)::

    DIR/checkpoints/<label>/<step>/arrays/...   orbax StandardSave (numpy leaves)
    DIR/checkpoints/<label>/<step>/meta/...     orbax JsonSave
    DIR/checkpoints/<label>/<step>/commit_success.txt

orbax writes a step into a temporary directory and renames it when complete,
so a killed job never leaves a half-written checkpoint that looks valid, and it
deletes all but the last ``keep`` steps.  Restoring rebuilds the pytrees from a
*template* (a fresh ``brain.init`` / ``brain.init_opt_state``): only leaf
values come from disk, the structure (``nnx.State``, optax named tuples) from
the code, after checking that paths, shapes and dtypes agree.
"""

from __future__ import annotations

import re
import shutil
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import jax
import numpy as np

from .errors import ScenarioError
from .rundir import CHECKPOINTS, check_component, is_step_dir

__all__ = ["Checkpointer", "Restored", "has_checkpoint", "latest_arrays", "label_dir"]

_STEP_DIR = re.compile(r"^\d+$")


def label_dir(run_dir: "str | Path", label: str) -> Path:
    """``DIR/checkpoints/<label>``.

    Raises:
        ScenarioError: ``label`` is not a safe path component (``..``, ``/``, control characters, ...).
    """
    return Path(run_dir) / CHECKPOINTS / check_component(str(label), "a model label (checkpoint folder name)")


def _crc(a: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(a).view(np.uint8).reshape(-1).tobytes()) & 0xFFFFFFFF


def _committed_steps(directory: Path) -> list[int]:
    """Completed checkpoint steps under ``directory``.

    orbax writes a step into ``<step>.orbax-checkpoint-tmp-*`` and renames it to ``<step>`` once
    complete (an atomic rename on a local filesystem), so only all-digit names count.
    """
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and _STEP_DIR.match(p.name))


def has_checkpoint(run_dir: "str | Path") -> bool:
    """True when ``DIR/checkpoints/*/`` holds at least one completed checkpoint."""
    root = Path(run_dir) / CHECKPOINTS
    return root.is_dir() and any(_committed_steps(d) for d in root.iterdir() if d.is_dir())


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _dtype(x: Any) -> np.dtype:
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def _flatten(tree: Any) -> tuple[list, list[str], Any]:
    """Leaves (typed PRNG keys as their key data), their paths and the treedef."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    paths = [jax.tree_util.keystr(k) for k, _ in flat]
    leaves = [jax.random.key_data(v) if _is_key(v) else v for _, v in flat]
    return leaves, paths, treedef


@dataclass
class Restored:
    """What :meth:`Checkpointer.restore` returns.

    Attributes:
        step: completed training steps (the next step to run).
        tree: the restored pytree, shaped like the template.
        meta: the JSON metadata saved with it (``rngs``, ``callback_state``, ``done``, …).
    """

    step: int
    tree: Any
    meta: dict = field(default_factory=dict)


class Checkpointer:
    """Save/restore training snapshots of one model under ``directory``.

    Args:
        directory: ``DIR/checkpoints/<label>`` (see :func:`label_dir`).
        every: save every this many steps (``0``: only :meth:`save` calls with ``force``).
        keep: keep the last ``keep`` checkpoints (older ones are deleted).
        warn: called with a message when a damaged checkpoint is skipped (default: print to stderr).

    Every leaf is saved with its CRC-32, so a flipped bit is found on restore: a damaged newest
    checkpoint (bad checksum, unreadable meta, an empty step folder) is skipped with a warning naming
    it, and the newest intact one is used (:meth:`newest_intact`).
    """

    def __init__(self, directory: "str | Path", every: int = 0, keep: int = 3,
                 warn: Optional[Any] = None):
        if every < 0:
            raise ScenarioError(f"--checkpoint-every must be >= 0, found {every}", "--checkpoint-every")
        if keep < 1:
            raise ScenarioError(f"--keep-checkpoints must be >= 1, found {keep}", "--keep-checkpoints")
        self.directory = Path(directory).absolute()
        self.every, self.keep = int(every), int(keep)
        self._mngr = None
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._intact: Optional[int] = None
        self.damaged: list[int] = []  # steps found damaged by newest_intact()

    # ------------------------------------------------------------------ orbax
    def _manager(self):
        if self._mngr is None:
            import orbax.checkpoint as ocp

            self.directory.mkdir(parents=True, exist_ok=True)
            self._mngr = ocp.CheckpointManager(
                self.directory, options=ocp.CheckpointManagerOptions(
                    max_to_keep=self.keep, enable_async_checkpointing=False, create=True))
        return self._mngr

    def close(self) -> None:
        if self._mngr is not None:
            self._mngr.close()
            self._mngr = None

    # ------------------------------------------------------------------ API
    def steps(self) -> list[int]:
        """Completed checkpoint steps, oldest first."""
        return _committed_steps(self.directory)

    def latest_step(self) -> Optional[int]:
        s = self.steps()
        return s[-1] if s else None

    def path(self, step: int) -> Path:
        return self.directory / str(step)

    def due(self, step: int) -> bool:
        """Whether a checkpoint is due after ``step`` completed steps."""
        return self.every > 0 and step > 0 and step % self.every == 0

    def save(self, step: int, tree: Any, meta: Optional[Mapping[str, Any]] = None) -> Path:
        """Write the pytree ``tree`` (arrays) and JSON ``meta`` as checkpoint ``step`` (atomically)."""
        import orbax.checkpoint as ocp

        leaves, paths, _ = _flatten(tree)
        arrays = {f"{i:05d}": np.asarray(x) for i, x in enumerate(jax.device_get(leaves))}
        info = {**dict(meta or {}), "step": int(step), "leaf_paths": paths,
                "leaf_shapes": [list(a.shape) for a in arrays.values()],
                "leaf_dtypes": [str(a.dtype) for a in arrays.values()],
                "leaf_crc32": [_crc(a) for a in arrays.values()]}
        mngr = self._manager()
        if step in mngr.all_steps():  # re-saving a step (e.g. the final one) replaces it
            mngr.delete(step)
        mngr.save(step, args=ocp.args.Composite(arrays=ocp.args.StandardSave(arrays),
                                                meta=ocp.args.JsonSave(info)), force=True)
        mngr.wait_until_finished()
        self._intact = step
        return self.path(step)

    def verify(self, step: int) -> Optional[str]:
        """``None`` when checkpoint ``step`` reads back whole (meta, every leaf, every CRC-32), else
        what is wrong with it."""
        try:
            meta = self.read_meta(step)
            shapes, dtypes = meta["leaf_shapes"], meta["leaf_dtypes"]
            arrays = self._read_arrays(step, shapes, dtypes)
            crcs = meta.get("leaf_crc32")
            for i in range(len(shapes)):
                a = np.asarray(arrays[f"{i:05d}"])
                if list(a.shape) != list(shapes[i]) or str(a.dtype) != dtypes[i]:
                    return f"leaf {meta['leaf_paths'][i]} reads back as {a.dtype}{list(a.shape)}"
                if crcs is not None and _crc(a) != crcs[i]:
                    return f"leaf {meta['leaf_paths'][i]} fails its CRC-32 check (a changed bit)"
        except Exception as e:  # noqa: BLE001 — any failure to read back means the step is damaged
            return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        return None

    def newest_intact(self) -> Optional[int]:
        """The newest checkpoint step that reads back whole (``None``: none does); each damaged newer
        step is reported through ``warn`` and listed in :attr:`damaged` (it is kept on disk)."""
        if self._intact is not None:
            return self._intact
        for step in reversed(self.steps()):
            problem = self.verify(step)
            if problem is None:
                self._intact = step
                return step
            self.damaged.append(step)
            self._warn(f"warning: checkpoint '{self.path(step)}' is damaged ({problem}); "
                       "falling back to an older checkpoint")
        return None

    def read_meta(self, step: Optional[int] = None) -> dict:
        """The JSON metadata of checkpoint ``step`` (default: the latest)."""
        import orbax.checkpoint as ocp

        step = self._step(step)
        return self._manager().restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

    def restore(self, template: Any, step: Optional[int] = None) -> Restored:
        """Restore checkpoint ``step`` (default: the newest intact one) into the structure of ``template``.

        Raises:
            ScenarioError: no checkpoint, or one whose leaves do not match ``template`` (another wiring).
        """
        step = self._step(step)
        t_leaves, t_paths, treedef = _flatten(template)
        shapes = [list(np.shape(x)) for x in t_leaves]
        dtypes = [str(_dtype(x)) for x in t_leaves]
        meta = self.read_meta(step)
        if meta.get("leaf_paths") != t_paths or meta.get("leaf_shapes") != shapes or meta.get("leaf_dtypes") != dtypes:
            diff = next((f"{a} {sa} {da} vs {b} {sb} {db}" for a, sa, da, b, sb, db in
                         zip(meta.get("leaf_paths", []), meta.get("leaf_shapes", []), meta.get("leaf_dtypes", []),
                             t_paths, shapes, dtypes) if (a, sa, da) != (b, sb, db)),
                        f"{len(meta.get('leaf_paths', []))} leaves vs {len(t_paths)}")
            raise ScenarioError(f"checkpoint '{self.path(step)}' does not match this model "
                                f"(saved vs expected: {diff})", str(self.path(step)),
                                hint="it was written by another wiring or configuration; start a new run")
        arrays = self._read_arrays(step, shapes, dtypes)
        out = []
        for i, (_, orig) in enumerate(jax.tree_util.tree_flatten_with_path(template)[0]):
            a = np.asarray(arrays[f"{i:05d}"])
            if _is_key(orig):
                out.append(jax.random.wrap_key_data(a, impl=jax.random.key_impl(orig)))
            else:
                out.append(jax.numpy.asarray(a))
        return Restored(step, jax.tree_util.tree_unflatten(treedef, out), meta)

    def _read_arrays(self, step: int, shapes: list, dtypes: list) -> dict:
        """The ``{"00000": array, ...}`` leaves of checkpoint ``step``, read into zero targets of the
        given shapes and dtypes."""
        import orbax.checkpoint as ocp

        target = {f"{i:05d}": np.zeros(s, d) for i, (s, d) in enumerate(zip(shapes, dtypes))}
        return self._manager().restore(step, args=ocp.args.Composite(arrays=ocp.args.StandardRestore(target)))["arrays"]

    def _step(self, step: Optional[int]) -> int:
        if step is None:
            step = self.newest_intact()
            if step is None:
                damaged = f" ({len(self.damaged)} damaged)" if self.damaged else ""
                raise ScenarioError(f"no intact checkpoint in '{self.directory}'{damaged}", str(self.directory),
                                    hint="start the run again with --force")
        return int(step)

    def clear(self) -> None:
        """Delete every checkpoint step of this model (only step folders: nothing else in the directory)."""
        self.close()
        if self.directory.is_dir():
            for p in self.directory.iterdir():
                if is_step_dir(p):
                    shutil.rmtree(p)
        self._intact = None


def latest_arrays(run_dir: "str | Path", label: str) -> tuple[int, dict[str, np.ndarray]]:
    """The latest checkpoint of ``label`` as ``(step, {leaf path: numpy array})`` — no template needed.

    Handy in tests and notebooks: ``latest_arrays(DIR, "lstm_baseline")[1]["['params']['areas']..."]``.
    """
    ck = Checkpointer(label_dir(run_dir, label))
    step = ck._step(None)  # the newest intact step
    meta = ck.read_meta(step)
    got = ck._read_arrays(step, meta["leaf_shapes"], meta["leaf_dtypes"])
    ck.close()
    return step, {p: np.asarray(got[f"{i:05d}"]) for i, p in enumerate(meta["leaf_paths"])}
