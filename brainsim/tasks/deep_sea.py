"""deep_sea — the bsuite exploration benchmark (Osband et al. 2020), as pure JAX functions.

An N x N grid; the agent starts at the top-left cell (row 0, column 0) and descends one row per
step, so every episode lasts exactly N steps.  In each cell one of the two actions means "right"
(column + 1, clipped at N - 1, costing ``move_cost / N``) and the other "left" (column - 1,
clipped at 0, free); which action is "right" is drawn independently per cell (bsuite's
``randomize_actions``: ``mapping[row, col] ~ Bernoulli(0.5)``, action ``mapping[row, col]`` is
"right").  Going right in the bottom-right cell (row N - 1, column N - 1) opens the treasure
(reward +1): only the episode that goes right at every one of the N steps reaches it, so the best
return is ``1 - move_cost`` and an agent that dithers (picks actions at random) finds it with
probability 2^-N per episode.  Deterministic version (bsuite ``deep_sea``, not
``deep_sea_stochastic``).

Observation (here): the one-hot code of the cell, laid out on an ``n_max x n_max`` grid
(index ``row * n_max + col``) so sizes up to ``n_max`` share one program, plus one last unit that
is on after the final step (the terminal observation; bsuite's is all zeros).

Functions (no Python loop over steps; vmap over sizes / agents, scan over steps):
    :func:`action_mapping` ``(key, n_max) -> int32 [n_max, n_max]``
    :func:`observation` ``(row, col, size, n_max) -> float32 [n_max^2 + 1]``
    :func:`env_step` ``(mapping, size, row, col, action) -> (col', reward, right, treasure)``
    :func:`rollout` ``(mapping, size, actions [n_max]) -> (cols [n_max + 1], rewards [n_max], treasure)``

Reference: Osband, Doron, Hessel, Aslanides, Sezener, Saraiva, McKinney, Lattimore, Szepesvari,
    Singh, Van Roy, Sutton, Silver & Van Hasselt (2020) "Behaviour Suite for Reinforcement
    Learning", ICLR (bsuite ``deep_sea``); Osband, Van Roy, Russo & Wen (2019) JMLR 20:1-62
    ("Deep exploration via randomized value functions", the deep sea environment).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

MOVE_COST = 0.01  # bsuite's unscaled move cost: "right" costs MOVE_COST / N


def action_mapping(key: jax.Array, n_max: int) -> jax.Array:
    """``int32 [n_max, n_max]``: which action (0 or 1) means "right" in each cell (Bernoulli 0.5)."""
    return jax.random.bernoulli(key, 0.5, (n_max, n_max)).astype(jnp.int32)


def observation(row, col, size, n_max: int) -> jax.Array:
    """``float32 [n_max^2 + 1]``: one-hot cell ``row * n_max + col``, or the terminal unit once ``row >= size``."""
    idx = jnp.where(row < size, row * n_max + col, n_max * n_max)
    return jax.nn.one_hot(idx, n_max * n_max + 1, dtype=jnp.float32)


def env_step(mapping, size, row, col, action, move_cost: float = MOVE_COST):
    """One step from cell ``(row, col)`` with ``action`` (0 / 1) in a size-``size`` deep sea.

    Returns:
        ``(col', reward, right, treasure)``: the new column, the reward (``-move_cost / size`` for
        "right", +1 more for "right" in the bottom-right cell), whether the action meant "right",
        whether the treasure was opened.
    """
    right = action == mapping[row, col]
    treasure = right & (col == size - 1) & (row == size - 1)
    reward = treasure.astype(jnp.float32) - right.astype(jnp.float32) * (move_cost / size)
    new_col = jnp.clip(jnp.where(right, col + 1, col - 1), 0, size - 1)
    return new_col, reward, right, treasure


def rollout(mapping, size, actions, move_cost: float = MOVE_COST):
    """Play ``actions [n_max]`` (those past ``size`` are ignored) from the start cell.

    Returns:
        ``(cols [n_max + 1], rewards [n_max], treasure)``: the column before each step and after the
        last, each step's reward (0 past ``size``), whether the treasure was opened.
    """

    def body(col, x):
        row, a = x
        new_col, r, _, t = env_step(mapping, size, jnp.minimum(row, mapping.shape[0] - 1), col, a, move_cost)
        live = row < size
        return jnp.where(live, new_col, col), (col, jnp.where(live, r, 0.0), live & t)

    n = actions.shape[0]
    last, (cols, rewards, found) = jax.lax.scan(body, jnp.zeros((), jnp.int32), (jnp.arange(n), actions))
    return jnp.concatenate([cols, last[None]]), rewards, jnp.any(found)
