"""active_sampling: uncertainty measures rank as Settles (2009) defines them; the quick scenario beats random."""

from __future__ import annotations

import numpy as np
import pytest

from brainsim.scenarios.active_sampling import uncertainty


def test_uncertainty_measures_prefer_the_ambiguous_example():
    # rows: confident, two-way tie, uniform over all 10 classes
    logits = np.log(np.array([[0.91] + [0.01] * 9, [0.45, 0.45] + [0.1 / 8] * 8, [0.1] * 10]))
    for s in ("least_confidence", "entropy"):
        u = uncertainty(logits, s)
        assert u[0] < u[1] < u[2], s
    m = uncertainty(logits, "margin")
    assert m[0] < m[1] and m[1] == pytest.approx(m[2], abs=1e-6)  # margin sees only the top two classes
    np.testing.assert_allclose(uncertainty(logits, "least_confidence"), [0.09, 0.55, 0.9], atol=1e-6)


def test_active_sampling_quick(tmp_path):
    from brainsim.scenario import run_scenario

    s = run_scenario("active_sampling", quick=True, out=tmp_path / "run", progress=False)
    assert s["passed"], s["metrics"]
    m = s["metrics"]
    assert m["median_ratio"] <= 0.85 and all(v is not None for k, v in m["labels_to_target"].items()
                                             if k.startswith("margin"))
    assert (tmp_path / "run" / "figures" / "accuracy_vs_labels.png").exists()


def test_bad_strategy_names_the_option(tmp_path):
    from brainsim.errors import BrainsimError
    from brainsim.scenario import run_scenario

    with pytest.raises(BrainsimError, match="strategy"):
        run_scenario("active_sampling", quick=True, out=tmp_path / "bad", progress=False, sets=["strategy=greedy"])
