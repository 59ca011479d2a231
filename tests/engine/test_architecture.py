"""The layers point one way: the import-linter contracts of pyproject.toml are kept, and they catch a break.

errors -> area / costs / rules / optim -> wiring -> graph -> plan -> step -> learn -> brain -> rundir ->
train / checkpoint -> tasks -> scenario -> viz -> cli, never upward (lazy imports count too); viz never
imports the scenario runner.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(*args: str, cwd: Path = ROOT, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.fail(f"{LINT} not found: install the test extra (pip install -e '.[test]', it has import-linter)")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([str(LINT), "--no-cache", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_layer_contracts_are_kept():
    r = lint()
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "brainsim layers point one way KEPT" in out
    assert "0 broken" in out


def test_a_contract_the_code_breaks_fails(tmp_path):
    """A layers contract that puts viz below wiring (viz draws wirings, so it imports them) must fail."""
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "brainsim"\n\n'
                      '[[tool.importlinter.contracts]]\nname = "viz below wiring (wrong on purpose)"\n'
                      'type = "layers"\nlayers = ["brainsim.wiring", "brainsim.viz"]\n')
    r = lint("--config", str(config))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "BROKEN" in out and "brainsim.viz" in out


@pytest.mark.parametrize("module, line, broken", [
    ("scenario.py", "from .viz.report import finalize_run", "brainsim layers point one way BROKEN"),
    ("wiring.py", "from .graph import build_graph", "brainsim layers point one way BROKEN"),
    ("viz/report.py", "from ..scenario import get_scenario", "viz never imports the scenario runner BROKEN"),
])
def test_an_upward_import_breaks_the_real_contracts(tmp_path, module, line, broken):
    """A copy of brainsim with one upward import (lazy, inside a function) fails `lint-imports`."""
    pkg = tmp_path / "brainsim"
    shutil.copytree(ROOT / "brainsim", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(pkg / module, "a", encoding="utf-8") as f:
        f.write(f"\n\ndef _upward():\n    {line}  # noqa: F401\n")
    r = lint(cwd=tmp_path, pythonpath=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert broken in out, out
