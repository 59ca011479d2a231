"""The wiring error corpus: every file in tests/wiring_errors/ is rejected cleanly by `brainsim validate`.

Each corpus file declares its expectation on its first line::

    # expect: 7:9: unknown key 'delai'

(``LINE:COL: message fragment``); files that cannot carry a comment (a zero-byte
file, a non-UTF-8 file) are listed in ``expectations.txt``.  Every file goes
through the CLI in-process (``brainsim.cli.main``) and must exit 2 with stderr
``<path>:<line>:<col>: error: ...`` holding the fragment and a ``hint:``, no
traceback; a few hostile ones also go through a real ``python -m brainsim.cli``
subprocess.  (No wall-clock bound: files that used to hang validation, such as
3000 hidden layers or a billion GPR substeps, are now refused by their options'
bounds before anything is built, which the expected messages check.)
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jax.numpy as jnp

os.environ.setdefault("BRAINSIM_MEMORY_LIMIT", "4G")  # resource_over_memory_limit.yaml: the same on every machine

import brainsim.areas  # noqa: F401  (import the catalogue up front)
import brainsim.brain  # noqa: F401
from brainsim.cli import build_parser, main

# One-time costs (command-line plugins, the JAX backend used to evaluate schedules) are paid here.
build_parser()
float(jnp.zeros(()) + 1.0)

CORPUS = Path(__file__).resolve().parents[1] / "wiring_errors"
EXPECT = re.compile(r"^#\s*expect:\s*(\d+):(\d+):\s*(.+?)\s*$")


def _expectations() -> dict[str, tuple[int, int, str]]:
    table = {}
    for raw in (CORPUS / "expectations.txt").read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            name, rest = raw.split(": ", 1)
            m = EXPECT.match("# expect: " + rest)
            assert m, f"bad line in expectations.txt: {raw!r}"
            table[name] = (int(m.group(1)), int(m.group(2)), m.group(3))
    return table


LISTED = _expectations()
FILES = sorted(CORPUS.glob("*.yaml"))


def expectation(path: Path) -> tuple[int, int, str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    m = EXPECT.match(first)
    if path.name in LISTED:
        assert m is None, f"{path.name}: expectation both in the file and in expectations.txt"
        return LISTED[path.name]
    assert m, f"{path.name}: first line must be '# expect: LINE:COL: message fragment', found {first!r}"
    return int(m.group(1)), int(m.group(2)), m.group(3)


def check_output(path: Path, rc: int, out: str, err: str) -> None:
    line, col, fragment = expectation(path)
    assert rc == 2, f"{path.name}: exit {rc}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in out + err, err
    prefix = f"{path}:{line}:{col}: error: "
    assert err.startswith(prefix), f"{path.name}: expected stderr to start with {prefix!r}, got:\n{err}"
    assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: error: ", err)
    assert fragment in err.splitlines()[0], f"{path.name}: {fragment!r} not in the error line:\n{err}"
    assert "\n  hint: " in err, f"{path.name}: the error has no hint:\n{err}"


def test_corpus_is_large_and_every_file_declares_an_expectation():
    assert len(FILES) >= 30
    assert set(LISTED) <= {p.name for p in FILES}, "expectations.txt names a missing file"
    for p in FILES:
        expectation(p)
    names = " ".join(p.stem for p in FILES)
    for topic in ("syntax", "unknown", "type", "dimension", "cycle", "delay", "gate", "schedule", "optimizer",
                  "rule", "empty", "duplicate", "hostile_python", "billion_laughs", "nan", "resource", "iteration",
                  "name_unquoted_no", "negative", "gate_cycle"):
        assert topic in names, f"no corpus file about {topic}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_is_rejected_with_location_and_message(path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["validate", str(path)])
    check_output(path, rc, out.getvalue(), err.getvalue())


SUBPROCESS_FILES = ["hostile_python_object_apply.yaml", "hostile_billion_laughs.yaml", "syntax_unclosed_bracket.yaml"]


def test_real_cli_subprocess_rejects_hostile_and_broken_files(tmp_path):
    # Run the real command (start-up of jax included, hence the generous timeout) in parallel.
    procs = {}
    for name in SUBPROCESS_FILES:
        procs[name] = subprocess.Popen([sys.executable, "-m", "brainsim.cli", "validate", str(CORPUS / name)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{name}: `brainsim validate` did not finish in 180 s")
        check_output(CORPUS / name, proc.returncode, out, err)
        assert "hacked" not in out + err  # the os.system payload never ran
