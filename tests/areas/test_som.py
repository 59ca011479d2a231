"""Tests of the ``som`` area: the contract, the map's read-out, the Kohonen gradient and self-organisation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from brainsim.testing import check_area, fit_area, make_area, run_area

CONTRACT_CASES = [
    dict(),
    dict(dims={"input": 3}, rows=3, cols=5, sigma=2.0),
]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_contract(case):
    case = dict(case)
    check_area("som", dims=case.pop("dims", None), **case)


def _numpy_map(W, x, rows, cols, sigma):
    """Reference read-out of a SOM with weights ``W [rows*cols, d]`` for inputs ``x [N, d]``."""
    d2 = ((x[:, None, :] - W[None]) ** 2).sum(-1)
    bmu = d2.argmin(1)
    r, c = bmu // cols, bmu % cols
    rr, cc = np.divmod(np.arange(rows * cols), cols)
    h = np.exp(-((rr[None] - r[:, None]) ** 2 + (cc[None] - c[:, None]) ** 2) / (2 * sigma ** 2))
    return d2, bmu, np.stack([r, c], 1).astype(np.float32), h


def test_readout_matches_numpy():
    """BMU = argmin distance; coords, neighbourhood activation and quantisation error as defined."""
    rows, cols, sigma = 4, 5, 1.3
    area = make_area("som", dims={"input": 3}, rows=rows, cols=cols, sigma=sigma)
    params, _ = area.init(jax.random.key(0))
    W = np.asarray(params["weights"][...])
    x = np.random.default_rng(1).uniform(size=(1, 200, 3)).astype(np.float32)
    _, out, c = run_area(area, params, {"input": x}, jax.random.key(0), costs={"quantization": 1.0})
    d2, bmu, coords, h = _numpy_map(W, x[0], rows, cols, sigma)
    np.testing.assert_array_equal(np.asarray(out["bmu"][0]).argmax(1), bmu)
    np.testing.assert_array_equal(np.asarray(out["bmu"][0]).sum(1), 1.0)
    np.testing.assert_array_equal(np.asarray(out["coords"][0]), coords)
    np.testing.assert_allclose(np.asarray(out["activation"][0]), h, rtol=1e-5, atol=1e-6)
    qe = np.sqrt(d2[np.arange(200), bmu])
    np.testing.assert_allclose(np.asarray(out["quantization_error"][0, :, 0]), qe, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(c["quantization"]), qe.mean(), rtol=1e-4)


def test_sgd_on_som_cost_is_the_kohonen_rule():
    """The gradient of ``som`` is -h_j (x - w_j), so one SGD step with rate eta is w_j += eta h_j (x - w_j)."""
    rows, cols, sigma, eta = 3, 4, 1.0, 0.3
    area = make_area("som", dims={"input": 2}, rows=rows, cols=cols, sigma=sigma)
    params, state = area.init(jax.random.key(2))
    W = np.asarray(params["weights"][...])
    x = np.array([0.9, 0.1], np.float32)
    fit, _ = fit_area(area, lambda s: ({"input": x[None, None]}, {}), {"som": 1.0}, 1,
                      optimizer=optax.sgd(eta), params=params)
    _, _, _, h = _numpy_map(W, x[None], rows, cols, sigma)
    np.testing.assert_allclose(np.asarray(fit["weights"][...]), W + eta * h[0][:, None] * (x - W), rtol=1e-5, atol=1e-6)
    # the quantisation term moves the best-matching unit only
    g = jax.grad(lambda p: area.step_costs(p, state, {"input": jnp.asarray(x)}, jax.random.key(0),
                                           {"q": lambda a, m, ctx: a.cost("quantization", m, ctx)}, {})[2]["q"])(params)
    moved = np.flatnonzero(np.abs(np.asarray(g["weights"][...])).sum(1))
    np.testing.assert_array_equal(moved, [np.argmin(((W - x) ** 2).sum(1))])


def _uniform_square(step, batch=64):
    return {"input": np.random.default_rng(step).uniform(-1, 1, size=(1, batch, 2)).astype(np.float32)}, {}


def _neighbour_ratio(area, W):
    """Mean weight distance of lattice neighbours over the mean over all pairs of units."""
    pos = np.asarray(area.lattice)
    lattice_d2 = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    dist = np.sqrt(((W[:, None] - W[None]) ** 2).sum(-1))
    return dist[lattice_d2 == 1].mean() / dist[np.triu_indices(len(W), 1)].mean()


def _topographic_error(area, W, x):
    """Fraction of inputs whose best and second-best units are not lattice neighbours (Kiviluoto 1996)."""
    first_two = np.argsort(((x[:, None] - W[None]) ** 2).sum(-1), axis=1)[:, :2]
    pos = np.asarray(area.lattice)
    return float(np.mean(np.abs(pos[first_two[:, 0]] - pos[first_two[:, 1]]).max(1) > 1))


def test_map_self_organises_on_the_unit_square():
    """SGD on ``som`` with a shrinking neighbourhood: quantisation error falls and the map keeps topology."""
    test = _uniform_square(10_000, batch=512)[0]
    params, before = None, None
    for phase, sigma in enumerate((3.0, 1.5, 0.7)):
        area = make_area("som", dims={"input": 2}, rows=8, cols=8, sigma=sigma)
        if params is None:
            params, _ = area.init(jax.random.key(0))
            before = params
        params, _ = fit_area(area, _uniform_square, {"som": 1.0}, 60, optimizer=optax.sgd(1.0), params=params,
                             key=jax.random.key(phase))
    qe, ratio, topo = [], [], []
    for p in (before, params):
        qe.append(float(run_area(area, p, test, jax.random.key(0), costs={"quantization": 1.0})[2]["quantization"]))
        W = np.asarray(p["weights"][...])
        ratio.append(_neighbour_ratio(area, W))
        topo.append(_topographic_error(area, W, test["input"][0]))
    assert qe[1] < 0.3 * qe[0], qe
    assert qe[1] < 0.13, qe  # an ideal 64-unit quantiser of the square [-1, 1]^2 reaches ~0.095
    assert ratio[0] > 0.8 and ratio[1] < 0.5, ratio
    assert topo[0] > 0.5 and topo[1] < 0.15, topo
