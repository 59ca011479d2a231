"""A wheel installed into a fresh venv works from an empty directory: list, validate, viz, run.

Offline and fast: the wheel is built without build isolation from a copy of the sources; the fresh
venv (no pip) sees the already-installed dependencies through a .pth file pointing at a folder of
links to .venv's site-packages *without* brainsim itself (nor the editable example plugin), then the
wheel is installed into it with ``pip --python VENV install --no-deps``.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "brainsim", "areas", "scenarios", "wiring")
HIDDEN = ("brainsim", "__editable__", "_brainsim", "brainsim_example_plugin", "__pycache__")


def _run(cmd, cwd, env=None, timeout=300):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tmp_root():
    # not pytest's tmp_path: concurrent pytest sessions prune old basetemp folders, and this test is long
    with tempfile.TemporaryDirectory(prefix="brainsim-wheel-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def wheel(tmp_root):
    tmp = tmp_root / "wheel"
    tmp.mkdir()
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(p, src / name)
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist",
              src], cwd=tmp)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("brainsim-*.whl")
    return whl


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_root):
    tmp = tmp_root / "venv"
    tmp.mkdir()
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).stdout.strip())
    deps = tmp / "deps"  # the installed dependencies, without any brainsim
    deps.mkdir()
    outer = Path(sysconfig.get_paths()["purelib"])
    for entry in outer.iterdir():
        if entry.name.startswith(HIDDEN) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    (site / "zz_brainsim_test_deps.pth").write_text(str(deps) + "\n")
    r = _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel], tmp)
    assert r.returncode == 0, r.stderr[-3000:]
    return env_dir


def test_the_wheel_ships_the_catalogue_wirings_and_types_and_nothing_generic(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"brainsim", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    for required in ("brainsim/py.typed", "brainsim/wirings/pbwm.yaml", "brainsim/wirings/lstm_baseline.yaml",
                     "brainsim/areas/cortex.py", "brainsim/scenarios/twelve_ax.py", "brainsim/viz/report.py"):
        assert required in names, required
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "brainsim").rglob("*.py")
              if "__pycache__" not in p.parts}
    missing = sorted(source - set(names))
    assert not missing, f"not in the wheel (add the package to [tool.setuptools] packages): {missing}"
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "brainsim.cli:main" in meta and "builtin = brainsim.areas" in meta


def test_the_installed_wheel_works_from_an_empty_directory(fresh_venv, tmp_root):
    bin_ = fresh_venv / "bin"
    work = tmp_root / "empty"
    work.mkdir()
    # a user's own folders named like the source layout must not shadow the installed catalogue
    (work / "areas").mkdir()
    (work / "areas" / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg", JAX_PLATFORMS="cpu")
    probe = _run([bin_ / "python", "-c", "import brainsim, importlib.util as u; print(brainsim.__file__); "
                  "print(u.find_spec('scenarios'), u.find_spec('wirings'))"], work, env)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert str(fresh_venv) in probe.stdout.splitlines()[0]
    assert probe.stdout.splitlines()[1] == "None None"  # nothing generic at the top of site-packages

    r = _run([bin_ / "brainsim", "list"], work, env)  # the console script
    assert r.returncode == 0, r.stderr[-2000:]
    assert "cortex" in r.stdout and "twelve_ax" in r.stdout and "pbwm" in r.stdout
    # the other commands in one process (each `brainsim` process pays the JAX import again)
    script = (
        "import sys; from brainsim.cli import main\n"
        "for argv in (['validate', 'pbwm'], ['viz', 'pbwm', '-o', 'x.svg'],\n"
        "             ['run', 'twelve_ax', '--quick', '--set', 'max_epochs=8', '--set', 'test_epochs=2',\n"
        "              '--set', 'match_params=false', '--out', 'r', '--no-progress']):\n"
        "    rc = main(argv)\n"
        "    print('RC', argv[0], rc, flush=True)\n"
        "    if rc not in (0, 1) or (rc == 1 and argv[0] != 'run'):\n"
        "        sys.exit(rc)\n")
    r = _run([bin_ / "python", "-c", script], work, env, timeout=900)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    rcs = dict(line.split()[1:] for line in r.stdout.splitlines() if line.startswith("RC "))
    assert rcs["validate"] == "0" and rcs["viz"] == "0"
    assert rcs["run"] in ("0", "1")  # a 1-update run may miss the smoke criterion
    assert (work / "x.svg").read_text().lstrip().startswith("<?xml")
    summary = json.loads((work / "r" / "summary.json").read_text())
    assert summary["scenario"] == "twelve_ax" and set(summary["metrics"]["models"]) == {"pbwm", "lstm_baseline"}
    assert (work / "r" / "report.html").stat().st_size > 10_000
    assert "Traceback" not in r.stderr
