"""Area catalogues come in through the ``brainsim.areas`` entry points (the engine never imports ``areas``),
canonical wiring names resolve next to ``load_wiring``, and an area's drawing colour is its own attribute."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

import brainsim.area as area_mod
from brainsim.area import Area, AreaError, area_types
from brainsim.errors import WiringError
from brainsim.wiring import WIRING_DIR, find_wiring, load_wiring, wiring_names

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_catalogues(monkeypatch):
    """Forget that the catalogues were loaded (the registry itself is kept)."""
    monkeypatch.setitem(area_mod._catalogues, "state", "unloaded")
    yield


def _ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=area_mod.CATALOGUE_GROUP)


def test_the_builtin_catalogue_is_declared_as_an_entry_point():
    eps = importlib.metadata.entry_points(group="brainsim.areas")
    assert any(ep.name == "builtin" and ep.value == "brainsim.areas" for ep in eps), list(eps)
    assert "cortex" in area_types() and "basal_ganglia" in area_types()


def test_a_third_party_catalogue_is_loaded_from_its_entry_point(fresh_catalogues, monkeypatch, tmp_path):
    (tmp_path / "my_catalogue_for_test.py").write_text(
        "from brainsim.area import Area, Port, register_area\n"
        "@register_area('test_leaky_from_entry_point')\n"
        "class Leaky(Area):\n"
        "    inputs = {'input': Port('auto')}\n"
        "    outputs = {'output': Port('input')}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(area_mod, "_catalogue_entry_points", lambda: [_ep("mine", "my_catalogue_for_test")])
    monkeypatch.delitem(area_mod._REGISTRY, "test_leaky_from_entry_point", raising=False)
    try:
        assert "test_leaky_from_entry_point" in area_types()
        assert "cortex" in area_types()  # the built-in catalogue is still there
    finally:
        area_mod._REGISTRY.pop("test_leaky_from_entry_point", None)
        sys.modules.pop("my_catalogue_for_test", None)


def test_a_broken_catalogue_is_a_clear_area_error_naming_its_entry_point(fresh_catalogues, monkeypatch):
    monkeypatch.setattr(area_mod, "_catalogue_entry_points", lambda: [_ep("broken", "no_such_catalogue_xyz")])
    with pytest.raises(AreaError, match=r"entry point 'broken = no_such_catalogue_xyz' \(group 'brainsim.areas'\)"
                                        r".*ModuleNotFoundError"):
        area_types()
    with pytest.raises(AreaError, match="broken"):  # not swallowed on the next call either
        area_types()


def test_without_entry_points_the_builtin_catalogue_is_imported_by_name(fresh_catalogues, monkeypatch):
    monkeypatch.setattr(area_mod, "_catalogue_entry_points", lambda: [])
    assert {"cortex", "hippocampus", "readout"} <= set(area_types())
    assert area_mod._catalogues["state"] == "loaded"


def test_area_colours_live_on_the_area_classes():
    from brainsim.viz._common import type_color

    types_ = area_types()
    assert types_["cortex"].color == "#4C72B0" and type_color(types_["cortex"]) == "#4C72B0"
    assert type_color("hippocampus") == types_["hippocampus"].color
    assert all(cls.color is not None for cls in types_.values())  # every built-in area has its colour

    class Plain(Area):
        type_name = "test_plain_colourless"

    first = type_color(Plain)
    assert first.startswith("#") and type_color(Plain) == first == type_color("test_plain_colourless")


def test_no_area_type_name_in_the_engine():
    """The engine (brainsim/) names no built-in area type, and never imports the `areas` package."""
    names = [n for n in area_types() if n not in ("lstm", "rnn", "readout")]  # words used in prose
    for p in (ROOT / "brainsim").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert "import areas" not in text and "from areas" not in text, p
        if p.parent.name == "viz":
            for n in names:
                assert f'"{n}"' not in text, (p, n)


def test_find_wiring_takes_a_canonical_name_or_a_path(tmp_path):
    assert find_wiring("pbwm") == WIRING_DIR / "pbwm.yaml"
    assert "pbwm" in wiring_names() and "lstm_baseline" in wiring_names()
    assert find_wiring(tmp_path / "x.yaml") == tmp_path / "x.yaml"  # a path is returned as given
    assert find_wiring("elsewhere/x.yaml") == Path("elsewhere/x.yaml")
    assert load_wiring("pbwm").name == load_wiring(WIRING_DIR / "pbwm.yaml").name
    with pytest.raises(WiringError, match=r"unknown wiring 'pbwn' \(did you mean 'pbwm'\?\)") as e:
        find_wiring("pbwn")
    assert "lstm_baseline" in str(e.value) and "path to a .yaml file" in str(e.value)
    with pytest.raises(WiringError, match="does not exist"):
        load_wiring(tmp_path / "missing.yaml")


def test_every_entry_point_accepts_a_canonical_name(capsys):
    import brainsim
    from brainsim.cli import main

    assert brainsim.load("lstm_baseline").spec.name == "lstm_baseline"
    assert main(["validate", "lstm_baseline"]) == 0
    assert "lstm" in capsys.readouterr().out
    assert main(["validate", "pbwn"]) == 2
    assert "did you mean 'pbwm'" in capsys.readouterr().err
    assert main(["bench", "lstm_baseline", "--json", "--batch", "2", "--time", "5", "--iters", "2"]) == 0
