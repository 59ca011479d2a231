"""The ``pbwm`` train step written by hand in plain JAX: the speed target for brainsim.

No brainsim code runs in the step: :func:`from_brainsim` reads brainsim's initial params
pytree once into a plain ``{name: array}`` dict, and :func:`make_train_step` builds a
``jax.jit``-ed ``(params, opt_state, batch) -> (params, opt_state, loss)`` out of
``jax.numpy``, one ``lax.scan`` over time, a ``vmap`` over the batch, ``jax.value_and_grad``
and ``optax.adam``.

What it computes (``wiring/pbwm.yaml``; one sample, step t, ``started = t > 0``)::

    relay    = stimulus                                   thalamus: no gate/attention connected (gain 1)
    s'       = s + (tanh(relay W_t + b_t + s U_t) - s) / tau_thalamus        (tau 1)
    pred'    = s' R_t + c_t                               next-input prediction
    gate     = sigmoid((x G + g - (x N + n)) / temperature),  x = [relay, memory]   bg "stripes"
               (memory: the working memory before this step's update = pfc.read over the delay-1 edge)
    code     = sigmoid(relay E + e);  recon = code D + d  cortex autoencoder
    memory'  = (1 - gate) * memory + gate * code          pfc: 3 stripes of width 16
    y        = tanh((memory'.flat + relay P) W_0 + b_0) W_1 + b_1       motor MLP + the e7 projection

Loss = 1.0 * mean_{t,b} |recon - relay|^2 / 8                (cortex/reconstruction)
     + 1.0 * sum(mask * CE(y, target)) / sum(mask)            (motor/supervised, cross-entropy)
     + 0.1 * sum_{t>0} |pred_{t-1} - relay_t|^2 / 8 / (T-1)B  (thalamus/prediction)

The areas without cost terms (bg, pfc) are trained only through ``credit: global``;
thalamus and cortex have ``credit: local`` (their inputs are ``stop_gradient``-ed, which is
a no-op here: their input, the stimulus, depends on no parameter). One ``optax.adam(1e-2)``
over every parameter equals brainsim's one Adam per area: Adam is elementwise and every
area counts the same steps. The basal-ganglia critic (``w_v``) gets no gradient in pbwm (no
``td`` cost), so its Adam update is exactly 0: the twin leaves it out.

Randomness: pbwm draws nothing (``explore: false``, cortex ``noise: 0``, pfc ``noise: 0``),
so the twin takes no key.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

# Constants of wiring/pbwm.yaml (the test checks them against the loaded wiring).
TAU_THALAMUS = 1.0
TEMPERATURE = 1.0
LEARNING_RATE = 1.0e-2
W_RECONSTRUCTION = 1.0
W_SUPERVISED = 1.0
W_PREDICTION = 0.1

#: hand-twin name -> key path in brainsim's ``params``
PARAM_PATHS = {
    "thal_w": ("areas", "thalamus", "w", "kernel"), "thal_wb": ("areas", "thalamus", "w", "bias"),
    "thal_u": ("areas", "thalamus", "u", "kernel"),
    "thal_r": ("areas", "thalamus", "readout", "kernel"), "thal_rb": ("areas", "thalamus", "readout", "bias"),
    "ctx_e": ("areas", "cortex", "enc", 0, "kernel"), "ctx_eb": ("areas", "cortex", "enc", 0, "bias"),
    "ctx_d": ("areas", "cortex", "dec", 0, "kernel"), "ctx_db": ("areas", "cortex", "dec", 0, "bias"),
    "bg_go": ("areas", "bg", "go", "kernel"), "bg_gob": ("areas", "bg", "go", "bias"),
    "bg_nogo": ("areas", "bg", "nogo", "kernel"), "bg_nogob": ("areas", "bg", "nogo", "bias"),
    "mot_w0": ("areas", "motor", "layers", 0, "kernel"), "mot_b0": ("areas", "motor", "layers", 0, "bias"),
    "mot_w1": ("areas", "motor", "layers", 1, "kernel"), "mot_b1": ("areas", "motor", "layers", 1, "bias"),
    "proj": ("projections", "e7", "w"),  # thalamus.relay -> motor.input (projection: linear)
}


def _leaf(tree: Any, path: tuple) -> Any:
    for k in path:
        tree = tree[k]
    return getattr(tree, "value", tree)  # an nnx.Variable (older layouts) or a plain array


def from_brainsim(params: Mapping) -> dict:
    """brainsim's pbwm ``params`` pytree -> the twin's ``{name: float32 array}`` (copies, no brainsim code).

    Args:
        params: ``{"areas": {name: {...}}, "projections": {"e<i>": {"w": [src, dst]}}}``.
    """
    return {n: jnp.asarray(np.asarray(_leaf(params, p)), jnp.float32) for n, p in PARAM_PATHS.items()}


def init_opt_state(params: Mapping) -> Any:
    return optax.adam(LEARNING_RATE).init(params)


def _sample_step(p, carry, x, started):
    """One time step of one sample. ``carry = (s [h], pred [n], memory [slots, width])``."""
    s, prev_pred, memory = carry
    stim, target, mask = x
    relay = jax.lax.stop_gradient(stim)  # credit: local on thalamus (a no-op: the stimulus has no params)
    # thalamus
    cell = jnp.tanh(relay @ p["thal_w"] + p["thal_wb"] + s @ p["thal_u"])
    s_new = s + (cell - s) / TAU_THALAMUS
    pred = s_new @ p["thal_r"] + p["thal_rb"]
    prediction = started * jnp.mean(jnp.square(prev_pred - relay))
    # basal ganglia (credit: global): Go - NoGo per stripe, from the relay and last step's memory
    xb = jnp.concatenate([relay, memory.reshape(-1)])
    logits = ((xb @ p["bg_go"] + p["bg_gob"]) - (xb @ p["bg_nogo"] + p["bg_nogob"])) / TEMPERATURE
    gate = jax.nn.sigmoid(logits)
    # cortex (credit: local)
    code = jax.nn.sigmoid(jax.lax.stop_gradient(relay) @ p["ctx_e"] + p["ctx_eb"])
    recon = code @ p["ctx_d"] + p["ctx_db"]
    reconstruction = jnp.mean(jnp.square(recon - relay))
    # working memory (credit: global)
    g = gate[:, None]
    memory = (1.0 - g) * memory + g * code[None, :]
    # motor read-out (credit: global)
    h = jnp.tanh((memory.reshape(-1) + relay @ p["proj"]) @ p["mot_w0"] + p["mot_b0"])
    y = h @ p["mot_w1"] + p["mot_b1"]
    m = mask[0]
    ce = -jnp.sum(target * jax.nn.log_softmax(y))
    return (s_new, pred, memory), (prediction, started, reconstruction, ce * m, m)


def loss(p: Mapping, batch: Mapping) -> jax.Array:
    """The weighted summed cost of one episode.

    Args:
        batch: ``{"stimulus": [T, B, 8], "target": [T, B, 2], "mask": [T, B, 1]}``.
    """
    stim, target, mask = batch["stimulus"], batch["target"], batch["mask"]
    B = stim.shape[1]
    carry = (jnp.zeros((B, p["thal_u"].shape[0])), jnp.zeros((B, stim.shape[-1])),
             jnp.zeros((B, p["bg_go"].shape[1], p["ctx_e"].shape[1])))
    step = jax.vmap(_sample_step, in_axes=(None, 0, 0, None))

    def body(c, xs):
        t, x = xs
        return step(p, c, x, (t > 0).astype(jnp.float32))

    _, (pn, pd, rec, sn, sd) = jax.lax.scan(body, carry, (jnp.arange(stim.shape[0]), (stim, target, mask)))
    total = W_RECONSTRUCTION * jnp.mean(rec)
    total = total + W_SUPERVISED * jnp.sum(sn) / jnp.maximum(jnp.sum(sd), 1e-8)
    return total + W_PREDICTION * jnp.sum(pn) / jnp.maximum(jnp.sum(pd), 1e-8)


def train_step_fn(params, opt_state, batch):
    """The pure (unjitted) step: ``(params, opt_state, batch) -> (params, opt_state, loss)``."""
    value, grads = jax.value_and_grad(loss)(params, batch)
    updates, opt_state = optax.adam(LEARNING_RATE).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


def make_train_step():
    """A fresh ``jax.jit`` of :func:`train_step_fn`: its first call (or ``.lower().compile()``) compiles.

    A new function object each time, so JAX's caches (keyed on the function) never hand a
    compile-time measurement a cached program.
    """
    def train_step(params, opt_state, batch):
        return train_step_fn(params, opt_state, batch)

    return jax.jit(train_step)


def twelve_ax_like_batch(batch: int = 16, time_steps: int = 100, seed: int = 0) -> dict:
    """A fixed random batch of pbwm's input shapes: one-hot stimulus, one-hot target, 0/1 mask.

    Returns:
        ``{"stimulus": [T, B, 8], "target": [T, B, 2], "mask": [T, B, 1]}`` float32 numpy arrays.
    """
    rng = np.random.default_rng(seed)
    eye8, eye2 = np.eye(8, dtype=np.float32), np.eye(2, dtype=np.float32)
    return {"stimulus": eye8[rng.integers(0, 8, (time_steps, batch))],
            "target": eye2[rng.integers(0, 2, (time_steps, batch))],
            "mask": (rng.random((time_steps, batch, 1)) < 0.7).astype(np.float32)}
