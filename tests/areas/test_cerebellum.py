"""Tests of the ``cerebellum`` area: granule sparsity, LMS readout, forward models (linear plant, 2-link arm), timing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from brainsim.area import merge_learned, split_learned
from brainsim.costs import area_term
from brainsim.testing import check_area, fit_area, make_area, run_area

# small sizes (the default config is covered by tests/areas/test_contract.py)
CONTRACT_CASES = [
    {"dims": {"state": 3, "efference": 2}, "granules": 64, "fan_in": 2, "active_fraction": 0.25, "out": 3,
     "time_constants": (2.0, 8.0)},
    {"granules": 32, "time_constants": (1.0, 4.0), "basis": "spectral"},
]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=["filter-basis", "spectral-basis"])
def test_contract(case):
    case = dict(case)
    check_area("cerebellum", dims=case.pop("dims", None), **case)


def _nmse(pred, target):
    """Mean over output dims of MSE / variance of the target (1.0 = predicting the mean)."""
    pred, target = np.asarray(pred).reshape(-1, pred.shape[-1]), np.asarray(target).reshape(-1, target.shape[-1])
    return float(np.mean(np.mean((pred - target) ** 2, 0) / target.var(0)))


# --------------------------------------------------------------------------- granule layer

def test_active_granule_fraction_matches_the_setting():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(8, 50, 5)) * [1.0, 3.0, 0.1, 10.0, 1.0]).astype(np.float32)   # unnormalised inputs
    u = rng.uniform(size=(8, 50, 3)).astype(np.float32)
    for fraction, extra in [(0.02, {}), (0.1, {}), (0.3, {"time_constants": (1.0, 3.0, 9.0), "basis": "spectral"})]:
        area = make_area("cerebellum", dims={"state": 5, "efference": 3}, granules=200, fan_in=3,
                         active_fraction=fraction, **extra)
        params, _ = area.init(jax.random.key(0))
        w = np.asarray(area.module(params).w[...])
        np.testing.assert_array_equal((w != 0).sum(0), 3)         # each granule cell samples fan_in mossy fibres
        assert (w != 0).any(1).all()                                # and every mossy fibre reaches some
        learned, fixed = split_learned(params)
        assert set(learned) == {"purkinje"}                         # only the Purkinje readout is plastic
        assert {"w", "b", "mf_offset", "mf_scale"} <= set(fixed)
        run = jax.jit(lambda p, xs: run_area(area, p, xs, jax.random.key(0)))
        _, out, _ = run(params, {"state": x, "efference": u})
        g = np.asarray(out["granule"]).reshape(400, 200)
        frac = (g > 0).mean(1)
        assert area.k_active == round(200 * fraction)
        assert abs(frac.mean() - fraction) < 0.005, (fraction, frac.mean())
        np.testing.assert_allclose(frac, area.k_active / 200)         # k-WTA: the same count at every step
        assert (g >= 0).all() and len({tuple(np.flatnonzero(r)) for r in g}) > 50  # input-specific patterns


def test_purkinje_gradient_is_the_lms_rule():
    area = make_area("cerebellum", dims={"state": 4}, granules=64, out=2, time_constants=(3.0,))
    params, state = area.init(jax.random.key(0))
    learned, fixed = split_learned(params)
    x = {"state": jnp.arange(4.0) - 1.5, "teacher": jnp.array([0.7, -0.2])}
    term = {"prediction": area_term("prediction")}

    @jax.jit
    def grad_and_step(lp):
        def loss(q):
            return area.step_costs(merge_learned(q, fixed), state, x, jax.random.key(1), term, {})[2]["prediction"]
        return jax.grad(loss)(lp), area.step(merge_learned(lp, fixed), state, x, key=jax.random.key(1))

    g, (new_state, out) = grad_and_step(learned)
    feats = np.concatenate([out["granule"], new_state["traces"].reshape(-1)])
    err = np.asarray(out["error"])
    np.testing.assert_allclose(err, x["teacher"] - out["prediction"], rtol=1e-6)
    # Widrow-Hoff: dW = -grad = error x presynaptic (parallel-fibre) activity
    np.testing.assert_allclose(-np.asarray(g["purkinje"]["kernel"][...]), np.outer(feats, err), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(-np.asarray(g["purkinje"]["bias"][...]), err, rtol=1e-5)


# --------------------------------------------------------------------------- forward models

def test_learns_a_linear_plant_by_lms():
    """x_{t+1} = A x_t + B u_t: predict the next state from the state and the efference copy (plain SGD = LMS)."""
    rng = np.random.default_rng(0)
    n, m = 4, 2
    A = np.linalg.qr(rng.normal(size=(n, n)))[0] * 0.9
    Bm = rng.normal(size=(n, m))

    def episodes(T=16, B=32):
        x, xs, us, ys = rng.normal(size=(B, n)), [], [], []
        for _ in range(T):
            u = rng.normal(size=(B, m)) * 0.01          # motor command in small units: needs normalisation
            y = x @ A.T + 100.0 * u @ Bm.T
            xs.append(x), us.append(u), ys.append(y)
            x = y
        f = lambda a: np.asarray(a, np.float32)
        return {"state": f(xs), "efference": f(us), "teacher": f(ys)}

    area = make_area("cerebellum", dims={"state": n, "efference": m}, out=n)
    params, _ = area.init(jax.random.key(0))
    calib = episodes()
    params = area.calibrate(params, calib["state"], calib["efference"])
    mf_scale = np.asarray(area.module(params).mf_scale[...])
    assert mf_scale[n:].max() < 0.05 < mf_scale[:n].min()       # the efference channels are scaled up

    params, hist = fit_area(area, lambda s: (episodes(), {}), {"prediction": 1.0}, steps=100,
                            optimizer=optax.sgd(0.05), params=params)
    # each step's cost is measured on fresh episodes before the update: a held-out (online) test error
    curve = np.array([h["prediction"] for h in hist])
    assert curve[:10].mean() > 5 * curve[-10:].mean(), (curve[:10].mean(), curve[-10:].mean())
    assert curve[:20].mean() > curve[20:40].mean() > curve[40:60].mean() > curve[-20:].mean()  # falls with training
    teacher = episodes(B=256)["teacher"]
    nmse = 2 * curve[-10:].mean() / teacher.reshape(-1, n).var(0).sum()   # sum of squared errors / total variance
    assert nmse < 0.1, nmse


# standard planar 2-link arm (horizontal plane, no gravity), Euler step dt; parameters of a human arm
M1, M2, L1, LC1, LC2, I1, I2, DAMP, DT = 1.4, 1.1, 0.3, 0.11, 0.16, 0.025, 0.045, 0.05, 0.01


def arm_step(q, dq, tau):
    """One step of M(q) q'' + C(q, q') q' + D q' = tau.  ``q, dq, tau [..., 2]`` -> ``(q', dq')``."""
    c2, s2 = np.cos(q[..., 1]), np.sin(q[..., 1])
    m11 = M1 * LC1 ** 2 + M2 * (L1 ** 2 + LC2 ** 2 + 2 * L1 * LC2 * c2) + I1 + I2
    m12 = M2 * (LC2 ** 2 + L1 * LC2 * c2) + I2
    m22 = M2 * LC2 ** 2 + I2
    h = M2 * L1 * LC2 * s2
    coriolis = np.stack([-h * (2 * dq[..., 0] * dq[..., 1] + dq[..., 1] ** 2), h * dq[..., 0] ** 2], -1)
    r = tau - coriolis - DAMP * dq
    det = m11 * m22 - m12 ** 2
    ddq = np.stack([m22 * r[..., 0] - m12 * r[..., 1], -m12 * r[..., 0] + m11 * r[..., 1]], -1) / det[..., None]
    dq_next = dq + DT * ddq
    return q + DT * dq_next, dq_next


def test_learns_two_link_arm_dynamics():
    rng = np.random.default_rng(1)

    def sample(n):
        q = rng.uniform([-np.pi / 2, 0.1], [np.pi / 2, 2.5], size=(n, 2))
        dq, tau = rng.normal(size=(n, 2)) * 2.0, rng.normal(size=(n, 2))
        q2, dq2 = arm_step(q, dq, tau)
        return np.concatenate([q, dq], -1), tau, np.concatenate([q2 - q, dq2 - dq], -1)

    s, u, d = sample(4096)
    scale = d.std(0)          # the climbing fibres signal the change of state in units of its spread

    def batch(T=8, B=32):
        s, u, d = sample(T * B)
        f = lambda a: a.reshape(T, B, -1).astype(np.float32)
        return {"state": f(s), "efference": f(u), "teacher": f(d / scale)}

    area = make_area("cerebellum", dims={"state": 4, "efference": 2}, out=4)
    params, _ = area.init(jax.random.key(0))
    params = area.calibrate(params, s, u)
    params, hist = fit_area(area, lambda i: (batch(), {}), {"prediction": 1.0}, steps=150,
                            optimizer=optax.adam(1e-2), params=params)
    test = batch(B=256)
    _, out, _ = jax.jit(lambda p, x: run_area(area, p, x, jax.random.key(1)))(params, test)
    pred, tgt = np.asarray(out["prediction"]), np.asarray(test["teacher"])
    nmse = _nmse(pred, tgt)
    no_change = _nmse(np.zeros_like(tgt), tgt)
    assert nmse < 0.2 and nmse < 0.2 * no_change, (nmse, no_change)
    # the nonlinear (inertia, Coriolis) part of the dynamics is captured: the velocity change is predicted far
    # better than by the best linear model of state and torque (least squares on the same data)
    X = np.concatenate([s, u, np.ones((len(s), 1))], 1)
    W = np.linalg.lstsq(X, d / scale, rcond=None)[0]
    Xt = np.concatenate([test["state"], test["efference"], np.ones((*tgt.shape[:2], 1))], -1)
    linear = _nmse((Xt @ W)[..., 2:], tgt[..., 2:])
    assert _nmse(pred[..., 2:], tgt[..., 2:]) < 0.5 * linear, (_nmse(pred[..., 2:], tgt[..., 2:]), linear)


def test_filter_bank_identifies_a_plant_with_memory():
    """Adaptive-filter basis: y_t = leaky integral of the command (tau 4).  An instantaneous granule code cannot
    do better than nMSE (1 - 1/4)^2 = 0.56 (y_{t-1} is independent of u_t); the filter bank learns it."""
    rng = np.random.default_rng(2)
    a = 0.25

    def batch(T=32, B=16):
        u = rng.normal(size=(T, B, 1)).astype(np.float32)
        y, acc = np.zeros_like(u), np.zeros((B, 1), np.float32)
        for t in range(T):
            acc = acc + a * (u[t] - acc)
            y[t] = acc
        return {"state": u, "teacher": y / np.sqrt(a / (2 - a))}

    area = make_area("cerebellum", dims={"state": 1, "efference": 1}, granules=64, fan_in=1,
                     time_constants=(2.0, 4.0, 8.0))
    _, hist = fit_area(area, lambda i: (batch(), {}), {"prediction": 1.0}, steps=150, optimizer=optax.adam(3e-2))
    nmse = 2 * np.mean([h["prediction"] for h in hist[-10:]]) / batch(B=256)["teacher"].var()  # fresh data each step
    assert nmse < 0.15 < 0.56, nmse


def test_spectral_basis_times_a_conditioned_response():
    """Delay eyeblink conditioning: a tone (CS) from t=0 and an air puff (US) at t=4 for one Purkinje cell, t=9 for
    another; no-CS trials have no US.  Each learns a response that peaks at its own US time, only after the CS."""
    T, delays = 20, (4, 9)
    t = np.arange(T)
    cs = np.zeros((T, 2, 4), np.float32)
    cs[:, 0] = [1.0, 0.5, -0.5, -1.0]                             # trial 0: the CS (on 4 mossy fibres); 1: no CS
    us = np.zeros((T, 2, 2), np.float32)
    for j, d in enumerate(delays):
        us[:, 0, j] = np.exp(-0.5 * ((t - d) / 1.5) ** 2)
    data = {"state": cs, "teacher": us}
    area = make_area("cerebellum", dims={"state": 4, "efference": 1}, granules=256, fan_in=2, out=2,
                     time_constants=(1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0), basis="spectral")
    params, hist = fit_area(area, lambda i: (data, {}), {"prediction": 1.0}, steps=300, optimizer=optax.adam(0.1))
    _, out, _ = jax.jit(lambda p, x: run_area(area, p, x, jax.random.key(0)))(params, data)
    cr = np.asarray(out["prediction"])
    g = np.asarray(out["granule"])[:, 0]
    assert len({tuple(np.flatnonzero(r)) for r in g[1:]}) >= 8      # the CS evokes a time-varying granule code
    for j, d in enumerate(delays):
        assert abs(int(np.argmax(cr[:, 0, j])) - d) <= 1, (j, cr[:, 0, j])  # a timed conditioned response
        assert cr[d, 0, j] > 0.4
        assert np.abs(cr[:, 1, j]).max() < 0.1                       # no response without the CS
    assert hist[-1]["prediction"] < 0.25 * hist[0]["prediction"]
