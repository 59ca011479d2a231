"""The learning-rule scenarios' quick modes meet their own quick criteria (and write their figures)."""

from __future__ import annotations

import pytest

from brainsim.scenario import run_scenario


def _run(name, tmp_path):
    s = run_scenario(name, quick=True, out=tmp_path / "r", progress=False)
    assert s["passed"], (s["criterion"], s["metrics"])
    assert list((tmp_path / "r" / "figures").glob("*.png"))
    return s["metrics"]


def test_perturbation_scaling_quick_np_and_wp_follow_the_noise_dimension(tmp_path):
    m = _run("perturbation_scaling", tmp_path)
    row = m["table"][0]
    assert row["gd"] < row["np"] < row["wp"]


def test_hebbian_pca_quick_oja_and_sanger_find_the_principal_subspace(tmp_path):
    m = _run("hebbian_pca", tmp_path)
    angles = m["sanger"]["unit_angles_to_axes_deg"]
    assert max(angles) <= 10.0


def test_som_digits_quick_matches_minisom(tmp_path):
    m = _run("som_digits", tmp_path)
    assert m["relative_qe_gap"] <= 0.05
    assert m["brainsim"]["quantization_error"] < m["initial"]["quantization_error"]


@pytest.mark.parametrize("name", ["local_vs_global", "feedback_alignment"])
def test_quick_criterion(name, tmp_path):
    _run(name, tmp_path)
