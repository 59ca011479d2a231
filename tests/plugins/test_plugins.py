"""Plugins register like built-ins: entry points (the example package in examples/plugin, installed by
`make test`), an `imports:` list in a wiring file, and `--import MODULE` on the CLI."""

import importlib.metadata
import json
import textwrap
from pathlib import Path

import pytest

from brainsim.cli import main
from brainsim.plugins import PluginError, entry_points, import_module_or_path, load_plugins

PLUGIN_INSTALLED = any(ep.name == "noisy_step" for ep in entry_points("scenarios"))
needs_plugin = pytest.mark.skipif(not PLUGIN_INSTALLED, reason="pip install -e examples/plugin (make test does)")

MY_AREA = '''
import dataclasses
import jax.numpy as jnp
from brainsim import Area, Port, register_area
from brainsim.plugins import register_cost


@register_area("{name}")
class Doubler(Area):
    """Doubles its input (a test plugin area)."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        factor: float = 2.0  # the gain

    inputs = {{"input": Port("auto")}}
    outputs = {{"output": Port("input")}}

    def forward(self, module, state, inputs, key):
        return state, {{"output": self.config.factor * inputs["input"]}}


@register_cost("{name}_l1", options=("port",))
def l1(area, module, ctx):
    """Mean |output| (a test plugin cost)."""
    return jnp.mean(jnp.abs(ctx.outputs[ctx.options.get("port") or "output"]))
'''


def _wiring(area_type: str, cost: str, imports: str = "") -> str:
    return textwrap.dedent(f"""\
        name: plug
        {imports}
        inputs: {{x: 3, target: 3}}
        areas:
          twice: {{type: {area_type}, factor: 3.0, costs: {{{cost}: 1.0}}}}
          out:
            type: readout
            size: 3
            costs: {{supervised: {{target: target}}}}
        connections:
          - x -> twice.input
          - twice.output -> out.input
        outputs: {{y: out.output}}
        """)


def test_a_wiring_imports_a_py_file_relative_to_itself_and_uses_its_area_and_cost(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "my_doubler.py").write_text(MY_AREA.format(name="doubler_rel"))
    w = tmp_path / "sub" / "plug.yaml"
    w.write_text(_wiring("doubler_rel", "doubler_rel_l1", "imports: [my_doubler.py]"))
    assert main(["validate", str(w)]) == 0  # run from another directory: the path is relative to the wiring
    out = capsys.readouterr().out
    assert "twice" in out and "doubler_rel" in out


def test_cli_import_option_registers_an_area_for_every_command(tmp_path, capsys, monkeypatch):
    mod = tmp_path / "pluggy_mod_cli.py"
    mod.write_text(MY_AREA.format(name="doubler_cli"))
    monkeypatch.syspath_prepend(str(tmp_path))
    w = tmp_path / "plug.yaml"
    w.write_text(_wiring("doubler_cli", "doubler_cli_l1"))
    assert main(["validate", str(w)]) == 2  # without the import the type is unknown
    assert "unknown area type 'doubler_cli'" in capsys.readouterr().err
    assert main(["validate", "--import", "pluggy_mod_cli", str(w)]) == 0
    assert main(["list", "doubler_cli", "--import", "pluggy_mod_cli"]) == 0
    out = capsys.readouterr().out
    assert "area doubler_cli: Doubles its input" in out and "factor" in out and "the gain" in out


def test_a_missing_plugin_is_a_located_error_without_traceback(tmp_path, capsys):
    w = tmp_path / "plug.yaml"
    w.write_text(_wiring("readout", "activity_l1", "imports: [no_such_plugin_module_xyz, ./nowhere.py]"))
    assert main(["validate", str(w)]) == 2
    err = capsys.readouterr().err
    assert f"{w}:2:" in err and "no module named 'no_such_plugin_module_xyz'" in err
    assert "Traceback" not in err
    with pytest.raises(PluginError, match="does not exist"):
        import_module_or_path("nowhere.py", tmp_path)
    bad = tmp_path / "broken_plugin.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match="failed to import: RuntimeError: boom"):
        import_module_or_path("broken_plugin.py", tmp_path, "--import")


@needs_plugin
def test_entry_point_plugins_are_listed_with_the_built_ins(capsys):
    load_plugins()
    assert main(["list", "areas"]) == 0
    assert "leaky_integrator" in capsys.readouterr().out
    assert main(["list", "rules"]) == 0
    out = capsys.readouterr().out
    assert "sign_sgd" in out and "backprop" in out
    assert main(["list", "costs"]) == 0
    assert "huber" in capsys.readouterr().out
    assert main(["list", "tasks"]) == 0
    assert "noisy_step" in capsys.readouterr().out
    assert main(["list", "scenarios"]) == 0
    out = capsys.readouterr().out
    assert "noisy_step" in out and "twelve_ax" in out
    assert main(["list", "huber"]) == 0
    assert "where the loss turns from quadratic to linear" in capsys.readouterr().out


@needs_plugin
def test_unknown_names_list_the_plugin_names_too(tmp_path, capsys):
    w = tmp_path / "w.yaml"
    w.write_text(_wiring("leaky_integrater", "effort"))
    assert main(["validate", str(w)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'leaky_integrator'" in err and "leaky_integrator" in err.split("hint:")[1]
    w.write_text(_wiring("leaky_integrator", "effort").replace("size: 3", "size: 3\n    rule: sign_sdg")
                 .replace("tau", "tau"))
    assert main(["validate", str(w)]) == 2
    err = capsys.readouterr().err
    assert "sign_sgd" in err
    ok = _wiring("leaky_integrator", "effort").replace("factor: 3.0", "tau: 3.0").replace(
        "size: 3", "size: 3\n    rule: {name: sign_sgd, scale: 0.5}").replace("supervised: {target: target}",
                                                                       "huber: {target: target, delta: 0.5}")
    w.write_text(ok)  # the plugin's area, cost term and rule together
    assert main(["validate", str(w)]) == 0, capsys.readouterr().err


@needs_plugin
def test_a_plugin_scenario_runs_by_name_with_its_own_wiring_and_task(tmp_path, monkeypatch):
    from brainsim.scenario import run_scenario

    monkeypatch.chdir(tmp_path)  # the scenario's wiring is found next to its module, not in the cwd
    summary = run_scenario("noisy_step", quick=True, out=tmp_path / "run", progress=False)  # (the CLI adds the report)
    assert summary["passed"], summary
    assert summary["metrics"]["mse"] < 0.5 * summary["metrics"]["raw_input_mse"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["wirings"][0].endswith("brainsim_example_plugin/noisy_step.yaml")


def test_import_modules_are_recorded_in_config_json_and_imported_again_on_resume(tmp_path, capsys):
    """A run's ``--import`` modules go into config.json (a .py path resolved), so that ``--resume DIR``
    alone imports them again (the plugin writes a line to a marker file each time it is imported)."""
    marker = tmp_path / "imported.txt"
    plug = tmp_path / "marker_plugin.py"
    plug.write_text(f"with open({str(marker)!r}, 'a') as f:\n    f.write('x\\n')\n")
    here = Path(__file__).resolve().parents[2] / "examples" / "own_scenario.py"
    out = tmp_path / "run"
    assert main(["run", str(here), "--quick", "--out", str(out), "--no-progress",
                 "--import", str(plug)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["imports"] == [str(plug.resolve())]
    assert marker.read_text().count("x") == 1
    from brainsim import plugins

    plugins._imported.pop(str(plug.resolve()))  # as in a new process: nothing imported yet
    main(["run", "--resume", str(out), "--no-progress"])  # a finished run: whatever it answers, it imports first
    capsys.readouterr()
    assert marker.read_text().count("x") == 2
