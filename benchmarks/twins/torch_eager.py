"""The ``pbwm`` train step in PyTorch eager mode: what brainsim's compiled step is compared with.

Same model, loss and optimiser as :mod:`benchmarks.twins.hand_jax` (see its docstring for
the equations), written the way a PyTorch user would: batched tensors, a Python loop over
time, ``loss.backward()``, ``torch.optim.Adam(lr=1e-2)``. No compilation (no
``torch.compile``). float32 throughout.

Equivalences checked by ``tests/engine/test_twins.py``: torch's Adam adds ``eps`` to
``sqrt(v) / sqrt(1 - b2^t)``, i.e. to ``sqrt(v_hat)``, as optax does (optax's ``eps_root``
is 0); ``log_softmax`` and the masked mean are the same functions. Parameters that get no
gradient (the bg critic) are left out, as in the JAX twin.

Needs the optional ``bench`` extra (``pip install torch``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from . import hand_jax

PARAM_ORDER = tuple(hand_jax.PARAM_PATHS)


def from_brainsim(params: Mapping) -> dict:
    """brainsim's pbwm ``params`` -> ``{name: torch float32 leaf tensor with requires_grad}``."""
    return {n: torch.tensor(np.asarray(hand_jax._leaf(params, p)), dtype=torch.float32, requires_grad=True)
            for n, p in hand_jax.PARAM_PATHS.items()}


def loss(p: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The weighted summed cost of one episode (``batch`` as in :func:`hand_jax.loss`, torch tensors)."""
    stim, target, mask = batch["stimulus"], batch["target"], batch["mask"]
    T, B, n = stim.shape
    s = stim.new_zeros((B, p["thal_u"].shape[0]))
    prev_pred = stim.new_zeros((B, n))
    memory = stim.new_zeros((B, p["bg_go"].shape[1], p["ctx_e"].shape[1]))
    pred_sum = stim.new_zeros(())
    rec_sum = stim.new_zeros(())
    sup_num = stim.new_zeros(())
    for t in range(T):
        relay = stim[t]
        cell = torch.tanh(relay @ p["thal_w"] + p["thal_wb"] + s @ p["thal_u"])
        s = s + (cell - s) / hand_jax.TAU_THALAMUS
        if t > 0:
            pred_sum = pred_sum + torch.mean(torch.square(prev_pred - relay), dim=-1).sum()
        prev_pred = s @ p["thal_r"] + p["thal_rb"]
        xb = torch.cat([relay, memory.reshape(B, -1)], dim=-1)
        logits = ((xb @ p["bg_go"] + p["bg_gob"]) - (xb @ p["bg_nogo"] + p["bg_nogob"])) / hand_jax.TEMPERATURE
        gate = torch.sigmoid(logits)[:, :, None]
        code = torch.sigmoid(relay @ p["ctx_e"] + p["ctx_eb"])
        recon = code @ p["ctx_d"] + p["ctx_db"]
        rec_sum = rec_sum + torch.mean(torch.square(recon - relay), dim=-1).sum()
        memory = (1.0 - gate) * memory + gate * code[:, None, :]
        h = torch.tanh((memory.reshape(B, -1) + relay @ p["proj"]) @ p["mot_w0"] + p["mot_b0"])
        y = h @ p["mot_w1"] + p["mot_b1"]
        ce = -(target[t] * torch.log_softmax(y, dim=-1)).sum(-1)
        sup_num = sup_num + (ce * mask[t, :, 0]).sum()
    total = hand_jax.W_RECONSTRUCTION * rec_sum / (T * B)
    total = total + hand_jax.W_SUPERVISED * sup_num / torch.clamp(mask.sum(), min=1e-8)
    return total + hand_jax.W_PREDICTION * pred_sum / max((T - 1) * B, 1e-8)


class TorchTwin:
    """Params, Adam and the batch of one torch run: ``twin.step()`` is one train step (returns the loss)."""

    def __init__(self, params: Mapping, batch: Mapping):
        self.params = from_brainsim(params)
        self.batch = {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in batch.items()}
        self.opt = torch.optim.Adam([self.params[n] for n in PARAM_ORDER], lr=hand_jax.LEARNING_RATE,
                                    betas=(0.9, 0.999), eps=1e-8)

    def step(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        value = loss(self.params, self.batch)
        value.backward()
        self.opt.step()
        return float(value.detach())

    def numpy_params(self) -> dict:
        return {n: v.detach().numpy().copy() for n, v in self.params.items()}
