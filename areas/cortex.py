"""cortex — a (sparse, denoising, slow or predictive) autoencoder: a generic sensory cortical area.

Biological role: a patch of sensory neocortex that learns, without labels, a
code for its bottom-up input: sparse (few active neurons, Olshausen & Field
1996), robust to noise, temporally slow (invariant features, Wiskott &
Sejnowski 2002; Földiák 1991) or predictive of what comes next (predictive
coding, Rao & Ballard 1999).  An optional ``topdown`` input from a higher area
biases the code (feedback / attention), added to the code's pre-activation.
ML analogue: an autoencoder, ``encoder -> code -> decoder``, with the denoising
(Vincent et al. 2008), L1 / k-winners-take-all (Makhzani & Frey 2013) / KL
(Ng 2011) sparse and slow-feature variants.

    x~ = x + noise * N(0, I)           (denoising: corruption drawn from the step key)
    code = f(W_d … f(W_1 x~) … + topdown)     (``depth`` layers; widths interpolate input -> hidden)
    kwta: only the k largest code pre-activations stay active (the rest are 0)
    reconstruction = decoder(code)     (mirror of the encoder; last layer linear;
                                         ``tied``: decoder kernels are the encoder's transposed)

Predictive mode (``predictive: true``): the decoder output at step t is the
prediction of the input at t+1 (it still leaves through the ``reconstruction``
port) and ``error`` is ``x_t - prediction made at t-1`` (zero at the first
step): train it with the ``prediction`` term rather than ``reconstruction``.

Ports:
    in  ``input`` [auto]: bottom-up drive.
        ``topdown`` [hidden] (optional): added to the code pre-activation.
    out ``code`` [hidden]: the representation.
        ``reconstruction`` [input]: decoder output (in predictive mode: the
        prediction of the next input).
        ``error`` [input]: ``input - reconstruction``, or in predictive mode
        ``input - previous prediction`` (the prediction-error signal).
State: ``prev_code`` [hidden], ``prev_prediction`` [input] (the decoder output
    of the previous step), ``started`` [] (0.0 before the first step, then 1.0).
Cost terms:
    ``reconstruction``: mean squared error of the decoder output vs the *clean* input.
    ``sparsity``: ``l1`` and ``kwta``: mean |code|; ``kl``: mean over units of
        KL(target_rate || code_j), a per-step Bernoulli KL (by Jensen an upper
        bound of the KL of the time-averaged rate that Ng 2011 penalises).
        ``none``: the mean |code| as well (so the term is always defined).
    ``slowness``: mean squared change of the code, ``code_t - code_{t-1}``
        (not counted at the first step).
    ``prediction``: mean squared error of the previous step's decoder output vs
        the current input (not counted at the first step).
References: Olshausen & Field (1996) Nature 381; Vincent, Larochelle, Bengio &
    Manzagol (2008) ICML; Makhzani & Frey (2013) "k-Sparse Autoencoders";
    Ng (2011) "Sparse autoencoder", CS294A notes; Földiák (1991) Neural Comput 3;
    Wiskott & Sejnowski (2002) Neural Comput 14; Rao & Ballard (1999) Nat Neurosci 2.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area

_ACT = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}
_EPS = 1e-6


def _widths(n_in: int, hidden: int, depth: int) -> list[int]:
    """Encoder layer widths, from the input to the code, interpolated linearly."""
    return [n_in] + [max(1, round(n_in + (hidden - n_in) * i / depth)) for i in range(1, depth)] + [hidden]


class _Dense(nnx.Module):
    def __init__(self, kernel):
        self.kernel = nnx.Param(kernel)
        self.bias = nnx.Param(jnp.zeros((kernel.shape[1],), jnp.float32))

    def __call__(self, x):
        return x @ self.kernel[...] + self.bias[...]


class _Autoencoder(nnx.Module):
    def __init__(self, widths, tied, rngs):
        enc = list(zip(widths[:-1], widths[1:]))
        dec = [] if tied else [(b, a) for a, b in reversed(enc)]
        # LeCun-normal kernels, all drawn at once (one random draw per config keeps init cheap to compile)
        sizes = [a * b for a, b in enc + dec]
        flat = jax.random.normal(rngs.params(), (sum(sizes),), jnp.float32)
        parts = jnp.split(flat, list(itertools.accumulate(sizes))[:-1])
        kernels = [p.reshape(a, b) / jnp.sqrt(a) for p, (a, b) in zip(parts, enc + dec)]
        self.enc = nnx.List([_Dense(k) for k in kernels[:len(enc)]])
        if tied:  # decoder layer i reuses encoder layer (depth-1-i) transposed; only biases of its own
            self.dec_bias = nnx.List([nnx.Param(jnp.zeros((a,), jnp.float32)) for a, _ in reversed(enc)])
        else:
            self.dec = nnx.List([_Dense(k) for k in kernels[len(enc):]])


@register_area("cortex")
class Cortex(Area):
    """Autoencoder cortex: sparse / denoising / slow / predictive coding of its input."""

    color = "#4C72B0"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        hidden: int = 32  # code units (the last encoder layer's width)
        depth: int = 1  # encoder layers (widths interpolate from the input to hidden); the decoder mirrors them
        tied: bool = False  # decoder kernels are the encoder's transposed
        noise: float = 0.0  # std of the Gaussian corruption of the input (denoising autoencoder)
        sparsity: Literal["none", "l1", "kwta", "kl"] = "none"  # none, l1 (cost), kwta (k winners) or kl (to target_rate)
        k: int = 0  # active code units with sparsity: kwta
        target_rate: float = 0.05  # mean activation the kl sparsity term aims at
        activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid"  # nonlinearity of the encoder layers
        predictive: bool = False  # the decoder predicts the next input (predictive coding) instead of reconstructing this one

        def check(self):
            if self.hidden < 1:
                return f"hidden must be >= 1, found {self.hidden}"
            if not 1 <= self.depth <= 64:
                return f"depth must be in [1, 64] (layers are unrolled when the brain is built), found {self.depth}"
            if self.noise < 0:
                return f"noise must be >= 0, found {self.noise}"
            if not 0 <= self.k <= self.hidden:
                return f"k must be in [0, hidden={self.hidden}] (0: hidden // 10), found {self.k}"
            if not 0.0 < self.target_rate < 1.0:
                return f"target_rate must be in (0, 1), found {self.target_rate}"
            if self.sparsity == "kl" and self.activation != "sigmoid":
                return (f"sparsity 'kl' needs firing rates in (0, 1): set activation: sigmoid "
                        f"(found {self.activation!r})")
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"depth": 2, "tied": True, "activation": "tanh", "sparsity": "kwta", "k": 4},
                {"sparsity": "kl", "predictive": True, "noise": 0.1})
    inputs = {
        "input": Port("auto", doc="bottom-up drive"),
        "topdown": Port("hidden", required=False, doc="feedback added to the code pre-activation"),
    }
    outputs = {
        "code": Port("hidden", doc="the representation"),
        "reconstruction": Port("input", doc="decoder output (predictive mode: prediction of the next input)"),
        "error": Port("input", doc="reconstruction / prediction error"),
    }
    cost_terms = {
        "reconstruction": "mean squared error of the decoder output vs the clean input",
        "sparsity": "L1 of the code (l1, kwta, none) or KL(target_rate || code) per unit (kl)",
        "slowness": "mean squared change of the code between consecutive steps",
        "prediction": "mean squared error of the previous step's decoder output vs the current input",
    }

    @property
    def k_active(self) -> int:
        """Number of winners in k-winners-take-all (``k``, or ``hidden // 10`` at least 1)."""
        return self.config.k or max(1, self.config.hidden // 10)

    def build(self, rngs):
        widths = _widths(self.in_dims["input"], self.config.hidden, self.config.depth)
        return _Autoencoder(widths, self.config.tied, rngs)

    def initial_state(self):
        return {"prev_code": jnp.zeros((self.config.hidden,), jnp.float32),
                "prev_prediction": jnp.zeros((self.in_dims["input"],), jnp.float32),
                "started": jnp.zeros((), jnp.float32)}

    # ---- the network ---------------------------------------------------------
    def encode(self, module, x, topdown):
        """Code ``[hidden]`` of input ``x [input]`` with feedback ``topdown [hidden]``."""
        f = _ACT[self.config.activation]
        for layer in module.enc[:-1]:
            x = f(layer(x))
        pre = module.enc[-1](x) + topdown
        code = f(pre)
        if self.config.sparsity == "kwta":
            _, idx = jax.lax.top_k(pre, self.k_active)
            code = code * jnp.zeros_like(pre).at[idx].set(1.0)
        return code

    def decode(self, module, code):
        """Decoder output ``[input]`` of ``code [hidden]`` (last layer linear)."""
        f = _ACT[self.config.activation]
        n = len(module.enc)
        y = code
        for i in range(n):
            if self.config.tied:
                y = y @ module.enc[n - 1 - i].kernel[...].T + module.dec_bias[i][...]
            else:
                y = module.dec[i](y)
            if i < n - 1:
                y = f(y)
        return y

    def forward(self, module, state, inputs, key):
        x = inputs["input"]
        x_in = x + self.config.noise * jax.random.normal(key, x.shape, x.dtype) if self.config.noise > 0 else x
        code = self.encode(module, x_in, inputs["topdown"])
        out = self.decode(module, code)
        if self.config.predictive:
            error = (x - state["prev_prediction"]) * state["started"]
        else:
            error = x - out
        new_state = {"prev_code": code, "prev_prediction": out, "started": jnp.ones((), jnp.float32)}
        return new_state, {"code": code, "reconstruction": out, "error": error}

    # ---- cost terms ----------------------------------------------------------
    def cost(self, term, module, ctx):
        code, x = ctx.outputs["code"], ctx.inputs["input"]
        started = ctx.state["started"]
        if term == "reconstruction":
            return jnp.mean(jnp.square(ctx.outputs["reconstruction"] - x))
        if term == "sparsity":
            if self.config.sparsity == "kl":
                rho, c = self.config.target_rate, jnp.clip(code, _EPS, 1.0 - _EPS)
                kl = rho * jnp.log(rho / c) + (1.0 - rho) * jnp.log((1.0 - rho) / (1.0 - c))
                return jnp.mean(kl)
            return jnp.mean(jnp.abs(code))
        if term == "slowness":
            return jnp.mean(jnp.square(code - ctx.state["prev_code"])) * started, started
        if term == "prediction":
            return jnp.mean(jnp.square(x - ctx.state["prev_prediction"])) * started, started
        return super().cost(term, module, ctx)
