"""contrastive_hebbian (xcal) and equilibrium_propagation against their formulas written out by hand.

The brain trains with ``sgd(learning_rate=1)``, so one train step changes a weight by exactly minus the
rule's pseudo-gradient; the phases are settled with the area's own ``settle`` and the contrast is
written here in numpy.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import brainsim
from brainsim.errors import WiringError

T, B = 2, 3
WIRING = """
name: t
inputs: {x: 4, y: 2}
areas:
  net: {type: energy, size: 2, hidden: [3], iterations: 30, rule: RULE, optimizer: {sgd: {learning_rate: 1.0}},
        costs: {supervised: {target: y}}}
connections: [x -> net.input, y -> net.target]
"""


def _batch():
    rng = np.random.default_rng(0)
    return {"x": rng.uniform(size=(T, B, 4)).astype(np.float32), "y": rng.uniform(size=(T, B, 2)).astype(np.float32)}


def _step(rule):
    brain = brainsim.from_yaml(WIRING.replace("RULE", rule))
    params, state = brain.init(jax.random.key(0), batch=B)
    batch = _batch()
    new, *_ = brain.train_step(params, brain.init_opt_state(params), state, batch, jax.random.key(1), 0)
    area = brain.plan.areas[0].area
    p = params["areas"]["net"]
    d = {k: [np.asarray(new["areas"]["net"][k][i]) - np.asarray(p[k][i]) for i in range(2)]
         for k in ("weights", "biases")}
    return area, p, batch, d


def _outer_mean(a, b):
    return np.einsum("tbi,tbo->io", a, b) / (T * B)


def _acts(area, layers, x):
    return [np.asarray(r) for r in area.activities(layers, x)]


def test_equilibrium_propagation_is_nudged_minus_free_energy_gradient_over_beta():
    area, p, b, d = _step("{name: equilibrium_propagation, beta: 0.5}")
    x, y = b["x"], b["y"]
    free = area.settle(p, x, y)
    nudged = area.settle(p, x, y, beta=0.5, start=free)
    rf, rn = _acts(area, free, x), _acts(area, nudged, x)
    for l in range(2):  # dE/dW_l = -rho(s_{l-1}) rho(s_l)^T: dW = (1/beta)(r^b r^bT - r^0 r^0T)
        want = (_outer_mean(rn[l], rn[l + 1]) - _outer_mean(rf[l], rf[l + 1])) / 0.5
        np.testing.assert_allclose(d["weights"][l], want, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(d["biases"][l], (rn[l + 1] - rf[l + 1]).mean((0, 1)) / 0.5, rtol=1e-4, atol=1e-6)
    assert np.abs(d["weights"][1]).max() > 1e-3


def test_contrastive_hebbian_is_clamped_minus_free_coproducts():
    area, p, b, d = _step("contrastive_hebbian")
    x, y = b["x"], b["y"]
    minus = area.settle(p, x, y)
    plus = area.settle(p, x, y, clamp=True, start=minus)
    np.testing.assert_allclose(np.asarray(plus[-1]), y, atol=0)  # the output is clamped to the target
    rm, rp = _acts(area, minus, x), _acts(area, plus, x)
    for l in range(2):
        want = _outer_mean(rp[l], rp[l + 1]) - _outer_mean(rm[l], rm[l + 1])
        np.testing.assert_allclose(d["weights"][l], want, rtol=1e-4, atol=1e-6)


def test_xcal_is_the_checkmark_of_plus_and_minus_coproducts():
    area, p, b, d = _step("{name: contrastive_hebbian, xcal: true, d_rev: 0.1}")
    x, y = b["x"], b["y"]
    minus = area.settle(p, x, y)
    plus = area.settle(p, x, y, clamp=True, start=minus)
    rm, rp = _acts(area, minus, x), _acts(area, plus, x)
    for l in range(2):
        xy, th = rp[l][..., :, None] * rp[l + 1][..., None, :], rm[l][..., :, None] * rm[l + 1][..., None, :]
        f = np.where(xy < 1e-4, 0.0, np.where(xy > 0.1 * th, xy - th, -xy * 0.9 / 0.1))
        np.testing.assert_allclose(d["weights"][l], f.mean((0, 1)), rtol=1e-4, atol=1e-6)
    # the checkmark's LTD branch differs from the linear CHL difference somewhere in this example
    _, _, _, d_lin = _step("contrastive_hebbian")
    assert not np.allclose(d["weights"][0], d_lin["weights"][0])


@pytest.mark.parametrize("rule", ["contrastive_hebbian", "equilibrium_propagation"])
def test_contrastive_rule_on_an_area_without_energy_is_a_located_wiring_error(rule):
    text = WIRING.replace("type: energy, size: 2, hidden: [3], iterations: 30", "type: readout, size: 2") \
        .replace(", y -> net.target", "").replace("RULE", rule)
    with pytest.raises(WiringError) as e:
        brainsim.from_yaml(text)
    msg = str(e.value)
    assert "area 'net'" in msg and f"rule '{rule}'" in msg and "energy function" in msg and "<string>:" in msg
