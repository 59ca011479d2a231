"""Wiring checks, one test each: the message text and the line it points at.

Every malformed wiring is written inline, loaded from a real file (so the
error carries ``file:line:col``) and must raise :class:`WiringError` with the
expected message fragments at the expected line.  Areas used: ``rnn`` (input
auto, output ``h[hidden]``), ``lstm`` (outputs ``h``, ``c``) and ``readout``
(output ``output[size]``; a size-4 readout serves as a 4-channel gate).
"""

from __future__ import annotations

import textwrap

import pytest

from brainsim.errors import Location, WiringError
from brainsim.graph import build_graph
from brainsim.wiring import load_wiring


def load(tmp_path, text, name="w.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return build_graph(load_wiring(path))


def fails(tmp_path, text, line, *fragments, col=None):
    """Load ``text``; assert a WiringError at ``line`` (and ``col``) whose text holds every fragment."""
    with pytest.raises(WiringError) as info:
        load(tmp_path, text)
    err = info.value
    shown = str(err)
    assert isinstance(err.where, Location), shown
    assert err.where.file == str(tmp_path / "w.yaml"), shown
    assert err.where.line == line, shown
    if col is not None:
        assert err.where.col == col, shown
    assert shown.startswith(f"{tmp_path / 'w.yaml'}:{line}:"), shown
    for f in fragments:
        assert f in shown, f"{f!r} not in:\n{shown}"
    return err


# --------------------------------------------------------------------------- positive controls

def test_valid_wiring_loads(tmp_path):
    g = load(tmp_path, """\
        name: ok
        inputs: {x: 3, target: 2}
        areas:
          enc: {type: lstm, hidden: 5}
          out:
            type: readout
            size: 2
            costs: {supervised: {weight: 1.0, target: target}}
        connections:
          - x -> enc.input
          - enc.h -> out.input
          - {from: out.output, to: enc.input, delay: 1, projection: linear}
        probes: [enc.c]
        outputs: {response: out.output}
        """)
    assert sorted(g.areas) == ["enc", "out"]
    assert g.schedule == (("enc",), ("out",))
    assert [(e.src_dim, e.dst_dim, e.delay) for e in g.edges] == [(3, 3, 0), (5, 5, 0), (2, 3, 1)]
    assert g.warnings == []
    assert sorted(g.graph.nodes) == ["enc", "out", "target", "x"]


def test_projection_edge_resolves_a_dimension_mismatch(tmp_path):
    text = """\
        inputs: {x: 3, y: 5}
        areas:
          a: {type: rnn, hidden: 4}
        connections:
          - x -> a.input
          - {from: y, to: a.input%s}
        """
    fails(tmp_path, text % "", 6, "dimension mismatch")
    g = load(tmp_path, text % ", projection: linear")
    e = g.edges[1]
    assert (e.src_dim, e.dst_dim, e.projection) == (5, 3, "linear")


# --------------------------------------------------------------------------- area types

def test_unknown_area_type_lists_known_types_and_suggests_closest(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a:
            type: lstn
            hidden: 4
        connections:
          - x -> a.input
        """, 4, "unknown area type 'lstn'", "(did you mean 'lstm'?)", col=11)
    assert "known types:" in err.hint
    for t in ("lstm", "readout", "rnn"):
        assert t in err.hint


# --------------------------------------------------------------------------- connections

def test_unknown_area_in_connection(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          lstm: {type: lstm, hidden: 4}
        connections:
          - x -> lstm.input
          - lstm.h -> lstmm.input
        """, 6, "no area named 'lstmm'", "(did you mean 'lstm'?)")


def test_unknown_source_area_in_connection(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          enc: {type: rnn, hidden: 4}
          r: {type: readout}
        connections:
          - x -> enc.input
          - enk.h -> r.input
        """, 7, "source 'enk.h': no area or input named 'enk'", "(did you mean 'enc'?)")


def test_unknown_output_port_in_connection(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
          r: {type: readout}
        connections:
          - x -> a.input
          - a.hx -> r.input
        """, 7, "area 'a' (type rnn) has no output port 'hx'", "(did you mean 'h'?)")
    assert err.hint == "its outputs: h"


def test_unknown_input_port_in_connection(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
          r: {type: readout}
        connections:
          - x -> a.input
          - from: a.h
            to: r.inptu
        """, 7, "area 'r' (type readout) has no input port 'inptu'", "(did you mean 'input'?)")


def test_source_area_without_port(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          b: {type: rnn, hidden: 3}
          z: {type: rnn, hidden: 3}
        connections:
          - x -> z.input
          - z -> b.input
        """, 7, "source 'z' must name an output port of area 'z'", "z.h")


def test_dimension_mismatch_names_both_ends_and_dims(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: lstm, hidden: 4}
          b: {type: rnn, hidden: 6}
          r: {type: readout}
        connections:
          - x -> a.input
          - b.h -> r.input
          - a.h -> r.input
          - {from: a.h, to: b.input, delay: 1}
        """, 9, "dimension mismatch into 'r.input'", "'b.h' has dim 6", "'a.h' has dim 4")
    assert "projection: linear" in err.hint and "4 -> 6" in err.hint


def test_dimension_mismatch_with_a_channel_selection(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
        connections:
          - x -> a.input
          - x[1] -> a.input
        """, 6, "dimension mismatch into 'a.input'", "'x' has dim 3", "'x[1]' has dim 1")


def test_zero_delay_cycle_prints_the_cycle_and_suggests_a_delay(tmp_path):
    text = """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
          b: {type: rnn, hidden: 4}
        connections:
          - x -> a.input
          - {from: a.h, to: b.input}
          - {from: b.h, to: a.input, projection: linear%s}
        """
    err = fails(tmp_path, text % "", 7, "zero-delay cycle: a -> b -> a")
    assert "delay: 1" in err.hint
    g = load(tmp_path, text % ", delay: 1")  # the suggested fix works
    assert g.schedule == (("a",), ("b",))


def test_zero_delay_self_loop(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
        connections:
          - x -> a.input
          - {from: a.h, to: a.input, projection: linear}
        """, 6, "zero-delay cycle: a -> a")
    assert "delay: 1" in err.hint


def test_required_input_port_left_unconnected(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a:
            type: rnn
          r:
            type: readout
        connections:
          - x -> a.input
        """, 5, "required input port 'r.input' (type readout) is not connected", col=3)
    assert "-> r.input" in err.hint


# --------------------------------------------------------------------------- names and delays

def test_input_and_area_with_the_same_name(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3, a: 2}
        areas:
          a: {type: rnn}
        connections:
          - x -> a.input
        """, 3, "duplicate name 'a': it is both an input and an area", col=3)


def test_duplicate_yaml_key(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
          b: {type: readout}
          a: {type: lstm}
        connections:
          - x -> a.input
        """, 5, "duplicate key 'a'", col=3)
    assert "already defined at line 3" in err.hint


def test_negative_delay(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 4}
        connections:
          - x -> a.input
          - from: a.h
            to: a.input
            projection: linear
            delay: -1
        """, 9, "delay must be >= 0 steps, found -1", col=12)
    assert "cannot arrive before it is sent" in err.hint


def test_fractional_delay(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn}
        connections:
          - {from: x, to: a.input, delay: 0.5}
        """, 5, "delay must be an integer number of steps, found a number 0.5")


# --------------------------------------------------------------------------- gates

GATED = """\
    inputs: {x: 3}
    areas:
      bg: {type: readout, size: 4}
      a: {type: rnn, hidden: 3}
    connections:
      - x -> bg.input
      - from: x
        to: a.input
        gate: %s
    """


def test_gate_channel_out_of_range(tmp_path):
    fails(tmp_path, GATED % "bg.output[9]", 9, "channel 9 does not exist", "'bg.output' has 4 channels: 0..3", col=11)


def test_gate_naming_a_missing_area(tmp_path):
    fails(tmp_path, GATED % "bgg.output[1]", 9, "no area or input named 'bgg'", "(did you mean 'bg'?)")


def test_gate_naming_a_missing_port(tmp_path):
    err = fails(tmp_path, GATED % "bg.gate[1]", 9, "area 'bg' (type readout) has no output port 'gate'")
    assert "its outputs: output" in err.hint


def test_gate_with_too_many_channels(tmp_path):
    fails(tmp_path, GATED % "bg.output", 9, "gate 'bg.output'", "has 4 channels: select one with 'bg.output[k]'")


def test_valid_gate_loads(tmp_path):
    g = load(tmp_path, GATED % "bg.output[2]")
    e = g.edges[1]
    assert str(e.gate) == "bg.output[2]" and e.gate_dim == 1
    assert g.schedule == (("bg",), ("a",))  # a gate source runs before the gated area


def test_unquoted_gate_channel_inside_braces_gets_a_quoting_hint(tmp_path):
    err = fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          bg: {type: readout, size: 4}
          a: {type: rnn, hidden: 3}
        connections:
          - x -> bg.input
          - {from: x, to: a.input, gate: bg.output[0]}
        """, 7, "invalid YAML")
    assert "'bg.gate[0]'" in err.hint


# --------------------------------------------------------------------------- outputs, probes, warnings

def test_output_referencing_a_missing_port(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 3}
        connections:
          - x -> a.input
        outputs:
          response: a.out
        """, 7, "output 'response' 'a.out': area 'a' (type rnn) has no output port 'out'", col=13)


def test_probe_referencing_a_missing_area(tmp_path):
    fails(tmp_path, """\
        inputs: {x: 3}
        areas:
          a: {type: rnn, hidden: 3}
        connections:
          - x -> a.input
        probes:
          - a.h
          - b.h
        """, 8, "probe 'b.h': no area or input named 'b'")


def test_unused_external_input_is_a_warning(tmp_path):
    g = load(tmp_path, """\
        inputs:
          x: 3
          unused: 2
        areas:
          a: {type: rnn, hidden: 3}
        connections:
          - x -> a.input
        """)
    assert len(g.warnings) == 1
    w = g.warnings[0]
    assert w.startswith(f"{tmp_path / 'w.yaml'}:3:")
    assert "warning: external input 'unused' is not used" in w
