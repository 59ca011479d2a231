"""Visual search among distractors: digits in a grid, the target marked by a colour cue.

A scene is a grid of ``n_slots`` cells, each holding an 8x8 digit from
scikit-learn's bundled digits (64 pixels in [0, 1]) painted in one of
``n_colours`` colours (a one-hot colour code appended to the pixels).  Exactly
one cell, the target, has the cued colour; the distractors are other digits in
the other colours.  The brain sees every cell and the cue (the colour to look
for) and must name the target's digit: a conjunction search (colour x shape)
in the sense of Treisman & Gelade (1980), where the template (the cue) must
select which cell's shape is read out.

Episodes are one step long (``T = 1``).  Digits come from a fixed split of the
1,797 images (``split``: ``"train"`` 1,297 or ``"test"`` 500, by a seeded
permutation), so test scenes show digits never seen in training.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScenarioError
from .base import Batch, Task

N_PIXELS, N_CLASSES = 64, 10


def digits_split(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(images [n, 64] in [0, 1], labels [n])`` of one split of sklearn's digits (1,297 train / 500 test)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    order = np.random.default_rng(seed).permutation(len(d.target))
    idx = order[:1297] if split == "train" else order[1297:]
    if split not in ("train", "test"):
        raise ScenarioError(f"unknown split {split!r}", "task.split", hint="train or test")
    return (d.data[idx] / 16.0).astype(np.float32), d.target[idx].astype(np.int64)


class VisualSearch(Task):
    """Scenes of ``n_slots`` coloured digits; find the one in the cued colour and name it.

    Batch: ``inputs`` ``[1, B, n_slots * (64 + n_colours)]`` (cell i at ``[i*(64+C), (i+1)*(64+C))``),
    ``targets`` ``[1, B, 10]`` one-hot digit of the target, ``mask`` ones; ``info``: ``cue`` ``[1, B, C]``
    one-hot cued colour, ``target_slot`` ``[B]``, ``label`` ``[B]``.
    """

    name = "visual_search"
    target_dim = N_CLASSES

    def __init__(self, n_slots: int = 4, n_colours: int = 3, split: str = "train"):
        if n_slots < 2 or n_colours < 2:
            raise ScenarioError(f"need n_slots >= 2 and n_colours >= 2, found {n_slots}, {n_colours}", "task")
        self.n_slots, self.n_colours = int(n_slots), int(n_colours)
        self.slot_dim = N_PIXELS + self.n_colours
        self.input_dim = self.n_slots * self.slot_dim
        self.images, self.labels = digits_split(split)

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        if not isinstance(rng, np.random.Generator):
            raise ScenarioError(f"sample needs a numpy Generator, found {type(rng).__name__}")
        if batch < 1:
            raise ScenarioError(f"batch must be >= 1, found {batch}")
        S, C, B = self.n_slots, self.n_colours, batch
        pick = rng.integers(0, len(self.labels), size=(B, S))
        cue = rng.integers(0, C, size=B)
        target_slot = rng.integers(0, S, size=B)
        # distractor colours: any colour but the cue's
        colours = (cue[:, None] + rng.integers(1, C, size=(B, S))) % C
        colours[np.arange(B), target_slot] = cue
        cells = np.concatenate([self.images[pick], np.eye(C, dtype=np.float32)[colours]], axis=-1)  # [B, S, 64+C]
        label = self.labels[pick[np.arange(B), target_slot]]
        return Batch(cells.reshape(1, B, -1), np.eye(N_CLASSES, dtype=np.float32)[label][None],
                     np.ones((1, B, 1), np.float32),
                     {"cue": np.eye(C, dtype=np.float32)[cue][None], "target_slot": target_slot, "label": label})
