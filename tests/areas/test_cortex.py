"""Tests of the ``cortex`` area: the contract, the forward semantics and its learning behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sklearn.datasets import load_digits

from brainsim.testing import check_area, fit_area, make_area, run_area

CONTRACT_CASES = [
    dict(),
    dict(depth=2, tied=True, sparsity="kwta", k=3, noise=0.2, predictive=True),
]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_contract(case):
    case = dict(case)
    check_area("cortex", dims=case.pop("dims", None), **case)


# --------------------------------------------------------------------------- forward semantics

def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _jit_step(area):
    return jax.jit(lambda p, s, x, k: area.step(p, s, x, key=k))


def test_forward_matches_numpy_tied_autoencoder():
    """Tied weights: reconstruction = sigmoid(x W + b + topdown) W^T + c, and error = x - reconstruction."""
    area = make_area("cortex", tied=True)  # input 6, hidden 32
    params, state = area.init(jax.random.key(0))
    m = area.module(params)
    assert not hasattr(m, "dec"), "tied decoder must not own a kernel"
    W, b = np.asarray(m.enc[0].kernel[...]), np.asarray(m.enc[0].bias[...])
    c = np.asarray(m.dec_bias[0][...]) + 0.3
    m.dec_bias[0][...] = jnp.asarray(c)
    params = nnx.state(m)
    x, td = np.linspace(-1, 1, 6).astype(np.float32), np.linspace(0.5, -0.5, 32).astype(np.float32)
    _, out = _jit_step(area)(params, state, {"input": x, "topdown": td}, jax.random.key(1))
    code = _sig(x @ W + b + td)
    np.testing.assert_allclose(out["code"], code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["reconstruction"], code @ W.T + c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["error"], x - (code @ W.T + c), rtol=1e-5, atol=1e-5)


def test_kwta_keeps_exactly_the_top_k_and_topdown_biases_the_competition():
    area = make_area("cortex", sparsity="kwta")  # input 6, hidden 32
    assert area.k_active == 3  # k = 0 -> hidden // 10
    params, state = area.init(jax.random.key(0))
    m = area.module(params)
    xs = jax.random.normal(jax.random.key(4), (50, 6))
    pre = np.asarray(xs @ m.enc[0].kernel[...] + m.enc[0].bias[...])
    step = jax.jit(jax.vmap(lambda x, td: area.step(params, state, {"input": x, "topdown": td}, key=jax.random.key(1))))
    _, outs = step(xs, jnp.zeros((50, 32)))
    code = np.asarray(outs["code"])
    np.testing.assert_array_equal(np.sum(code > 0, axis=1), 3)
    for j in range(50):
        assert set(np.flatnonzero(code[j])) == set(np.argsort(pre[j])[-3:])
    # a strong top-down signal to the three weakest units makes them the winners
    losers = np.argsort(pre, axis=1)[:, :3]
    td = np.zeros((50, 32), np.float32)
    np.put_along_axis(td, losers, 100.0, axis=1)
    _, outs = step(xs, td)
    for j in range(50):
        assert set(np.flatnonzero(np.asarray(outs["code"][j]))) == set(losers[j])


def test_check_rejects_kl_without_sigmoid():
    from brainsim.errors import AreaError
    with pytest.raises(AreaError, match="sigmoid"):
        make_area("cortex", sparsity="kl", activation="relu")


# --------------------------------------------------------------------------- behaviour on digits

_X = (load_digits().data / 16.0).astype(np.float32)
_X = _X[np.random.default_rng(0).permutation(len(_X))]
_TRAIN, _TEST = _X[:1500], _X[1500:]


def _digit_batch(step):
    return {"input": _TRAIN[np.random.default_rng(step).integers(0, len(_TRAIN), 128)][None]}, {}


def _evaluate(area, params, data):
    """(R^2 of the reconstruction, code [N, hidden]) on ``data [N, 64]``."""
    _, out, _ = run_area(area, params, {"input": data[None]}, jax.random.key(123))
    rec, code = np.asarray(out["reconstruction"][0]), np.asarray(out["code"][0])
    r2 = 1.0 - np.sum((rec - data) ** 2) / np.sum((data - data.mean(0)) ** 2)
    return r2, code


@pytest.fixture(scope="module")
def plain_autoencoder():
    area = make_area("cortex", dims={"input": 64}, hidden=32)
    params, _ = fit_area(area, _digit_batch, {"reconstruction": 1.0}, 600)
    return area, params


def test_reconstructs_held_out_digits(plain_autoencoder):
    r2, _ = _evaluate(*plain_autoencoder, _TEST)
    assert r2 >= 0.9, f"held-out reconstruction R^2 = {r2:.3f} < 0.9"


@pytest.mark.parametrize("mode,weight", [("kl", 0.1), ("l1", 0.15)])
def test_sparsity_penalty_brings_active_fraction_below_target(mode, weight, plain_autoencoder):
    """Units above half-maximal rate (0.5): <= target_rate with the penalty, far above it without."""
    area = make_area("cortex", dims={"input": 64}, hidden=32, sparsity=mode, target_rate=0.05)
    params, _ = fit_area(area, _digit_batch, {"reconstruction": 1.0, "sparsity": weight}, 300)
    r2, code = _evaluate(area, params, _TEST)
    active = float(np.mean(code > 0.5))
    _, dense = _evaluate(*plain_autoencoder, _TEST)
    assert active <= 0.05, f"{mode}: active fraction {active:.3f} > target 0.05"
    assert np.mean(dense > 0.5) > 0.2, "the unpenalised code should be dense"
    assert r2 >= 0.5, f"{mode}: the sparse code lost the input (R^2 = {r2:.3f})"


def test_denoising_autoencoder_cleans_corrupted_digits(plain_autoencoder):
    """Trained on corrupted inputs against clean targets, it undoes corruption far better than a plain one."""
    plain, plain_params = plain_autoencoder  # noise 0: evaluates any weights on the inputs it is given
    noisy = _TEST + 0.5 * np.random.default_rng(5).normal(size=_TEST.shape).astype(np.float32)
    area = make_area("cortex", dims={"input": 64}, hidden=32, noise=0.5)
    params, _ = fit_area(area, _digit_batch, {"reconstruction": 1.0}, 300)
    errs = {}
    for name, p in (("denoising", params), ("plain", plain_params)):
        _, out, _ = run_area(plain, p, {"input": noisy[None]}, jax.random.key(1))
        errs[name] = float(np.mean((np.asarray(out["reconstruction"][0]) - _TEST) ** 2))
    assert errs["denoising"] < 0.6 * errs["plain"], errs
    assert errs["denoising"] < 0.25 * float(np.mean((noisy - _TEST) ** 2)), errs


# --------------------------------------------------------------------------- slowness, prediction

_MIX = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 4)))[0].T.astype(np.float32)  # [4 latents, 8]


def _drifting(seed, batch=32, T=32):
    """8-D mixtures of 2 slowly drifting latents (variance 1) and 2 white-noise latents (variance 2.25)."""
    r = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None]
    slow = np.sqrt(2) * np.sin(r.uniform(0.05, 0.1, (1, batch, 2)) * t + r.uniform(0, 2 * np.pi, (1, batch, 2)))
    latents = np.concatenate([slow, 1.5 * r.normal(size=(T, batch, 2))], -1)
    return (latents @ _MIX).astype(np.float32), latents


def test_slowness_makes_the_code_change_slowly_and_follow_the_slow_causes():
    """Inputs mix 2 slow and 2 fast latents; with a slowness weight the 2-unit code keeps the slow ones."""
    x_test, latents = _drifting(999, batch=64)
    slow = np.concatenate([latents[..., :2].reshape(-1, 2), np.ones((x_test.shape[0] * 64, 1))], 1)
    results = {}
    for w in (0.0, 3.0):
        area = make_area("cortex", dims={"input": 8}, hidden=2, activation="tanh")
        params, _ = fit_area(area, lambda s: ({"input": _drifting(s)[0]}, {}), {"reconstruction": 1.0, "slowness": w}, 200)
        _, out, _ = run_area(area, params, {"input": x_test}, jax.random.key(0))
        code = np.asarray(out["code"])
        flat = code.reshape(-1, 2)
        change = np.sum((code[1:] - code[:-1]) ** 2, -1).mean() / flat.var(0).sum()
        fit = slow @ np.linalg.lstsq(slow, flat, rcond=None)[0]  # code variance explained by the slow latents
        results[w] = (float(change), float(1 - np.sum((fit - flat) ** 2) / np.sum((flat - flat.mean(0)) ** 2)))
    (plain_change, plain_r2), (slow_change, slow_r2) = results[0.0], results[3.0]
    assert slow_change < 0.25 * plain_change, results
    assert slow_r2 > 0.8 and plain_r2 < 0.4, results


def test_predictive_mode_learns_to_predict_the_next_input():
    """A cyclic one-hot sequence (x_{t+1} = roll(x_t)): the decoder learns to predict the successor.

    Also checks the bookkeeping: ``error`` and the ``prediction`` / ``slowness`` terms compare step t
    with step t-1 and skip the first step.
    """
    def seqs(seed, batch=32, T=12):
        start = np.random.default_rng(seed).integers(0, 6, batch)
        return np.eye(6, dtype=np.float32)[(start[None] + np.arange(T)[:, None]) % 6]

    area = make_area("cortex", predictive=True)  # input 6, hidden 32
    params, hist = fit_area(area, lambda s: ({"input": seqs(s)}, {}), {"prediction": 1.0}, 150)
    assert hist[-1]["prediction"] < 0.01 * hist[0]["prediction"], (hist[0], hist[-1])
    x = seqs(777, batch=8)
    _, out, c = run_area(area, params, {"input": x}, jax.random.key(0), costs={"prediction": 1.0, "slowness": 1.0})
    pred, code, err = (np.asarray(out[k]) for k in ("reconstruction", "code", "error"))
    np.testing.assert_array_equal(pred[:-1].argmax(-1), x[1:].argmax(-1))
    assert float(np.abs(err[1:]).max()) < 0.1
    np.testing.assert_allclose(err[0], 0.0)  # nothing was predicted before the first step
    np.testing.assert_allclose(err[1:], x[1:] - pred[:-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c["prediction"], np.mean((x[1:] - pred[:-1]) ** 2), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(c["slowness"], np.mean((code[1:] - code[:-1]) ** 2), rtol=1e-4)
