"""Fuzzing the wiring loader: whatever the document, loading either succeeds or raises ``WiringError``.

Three generators feed ``parse_wiring`` -> ``build_graph`` -> ``Brain(graph)``
(building a ``Brain`` also builds every optimiser and rule, but compiles
nothing):

* random YAML-ish text (and valid documents with characters inserted or deleted),
* random nested dict/list/scalar structures dumped to YAML,
* mutations of a valid, feature-rich wiring (keys deleted, values retyped,
  areas and ports renamed, random delays/dims/gates/schedules/optimisers).

Any exception other than :class:`~brainsim.errors.WiringError` is a bug. Each
bug the fuzzer found is kept below as an ``@example`` (regression).
"""

from __future__ import annotations

import copy
import string

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from brainsim.brain import Brain
from brainsim.errors import WiringError
from brainsim.graph import build_graph
from brainsim.wiring import parse_wiring

SETTINGS = settings(deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

# A valid wiring using every feature of the format (areas that exist in the engine's own catalogue).
BASE = {
    "name": "fuzz",
    "credit": "local",
    "optimizer": {"adam": {"learning_rate": 0.01}},
    "inputs": {"x": 3, "y": 2, "target": 2, "mask": 1},
    "areas": {
        "a": {"type": "rnn", "hidden": 4, "rule": "backprop"},
        "l": {"type": "lstm", "config": {"hidden": 5}, "credit": "global",
              "optimizer": [{"clip_by_global_norm": {"max_norm": 1.0}}, {"sgd": {"learning_rate": 0.1}}]},
        "bg": {"type": "readout", "size": 4, "rule": {"name": "none"}},
        "r": {"type": "readout", "size": 2, "replicas": 1,
              "costs": {"supervised": {"weight": 1.0, "target": "target", "mask": "mask", "loss": "mse",
                                       "schedule": {"linear_schedule": {"init_value": 0.0, "end_value": 1.0,
                                                                        "transition_steps": 10}}},
                        "activity_l2": 0.1}},
    },
    "connections": [
        "x -> a.input",
        "y -> bg.input",
        {"from": "a.h", "to": "l.input", "delay": 0, "weight": 0.5},
        {"from": "x[1]", "to": "l.input", "projection": "linear", "gate": "bg.output[2]"},
        {"from": "l.h", "to": "r.input", "delay": 2},
        {"from": "r.output", "to": "a.input", "delay": 1, "projection": "linear"},
    ],
    "probes": ["a.h", "l"],
    "outputs": {"response": "r.output"},
}
BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)


def check(text: str) -> None:
    """The property: loading succeeds, or fails with a WiringError that carries a location."""
    try:
        graph = build_graph(parse_wiring(text, "fuzz.yaml"))
        Brain(graph)
    except WiringError as e:
        assert e.where is not None, f"WiringError without a location: {e}"
        assert "Traceback" not in str(e)


def test_base_document_is_valid():
    graph = build_graph(parse_wiring(BASE_TEXT, "fuzz.yaml"))
    assert set(graph.areas) == {"a", "l", "bg", "r"} and graph.warnings == []


# --------------------------------------------------------------------------- random text

YAML_CHARS = string.ascii_letters[:8] + string.digits[:4] + " :-[]{},&*!|>'\"#%@`?.\n\t_\\<="
SNIPPETS = ["inputs:", "areas:", "connections:", " - x -> a.input", "type: rnn", "!!int", "!!python/name:os.system",
            "&a", "*a", "<<: *a", "{", "[", ": ", "- ", "\n  ", "---", "...", "!!binary", "!!float", "0x_", "._",
            "1e3", ".nan", "delay: -1", "gate: bg.output[9]", "? ", "%YAML 1.1\n", "\x00", "\ufeff", "\r\n"]

text_strategy = st.one_of(
    st.text(alphabet=YAML_CHARS, max_size=120),
    st.lists(st.sampled_from(SNIPPETS) | st.text(alphabet=YAML_CHARS, max_size=8), max_size=25).map("".join),
)


@st.composite
def mutated_text(draw):
    """The valid document with a few characters inserted, deleted or replaced."""
    text = BASE_TEXT
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(SNIPPETS) | st.text(alphabet=YAML_CHARS, min_size=1, max_size=3))
        if op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 10)):]
        else:
            text = text[:i] + piece + text[i + len(piece):]
    return text


# Regressions: every input below raised something other than WiringError before it was fixed.
@example("inputs: {x: 3, y: 2}\nareas: {r: {type: readout, size: 2, costs: {supervised: {target: null}}}}\n"
         "connections: [x -> r.input]")                           # KeyError: target None
@example("inputs: {x: 3, y: 2}\nareas: {r: {type: readout, size: 2, costs: {supervised: {target: y, mask: null}}}}\n"
         "connections: [x -> r.input]")                           # KeyError: mask None
@example("inputs: {x: !!int abc}\nareas: {}")                      # ValueError from the int constructor
@example("inputs: {x: !!bool maybe}\nareas: {}")                   # KeyError from the bool constructor
@example("!!int")                                                   # IndexError (empty int)
@example("inputs: {x: !!float abc}\nareas: {}")                    # ValueError from the float constructor
@example("a: 0x_\n")                                               # implicit int that int() rejects
@example("a: 0b_\n")                                               # implicit binary int that int() rejects
@example("inputs: {x: " + "9" * 5000 + "}\n")                      # int() digit limit (ValueError)
@example("inputs: " + "[" * 3000 + "]" * 3000 + "\n")              # RecursionError in the composer
@example("a:\n" + "".join(" " * i + "b:\n" for i in range(1, 600)))  # same, block style
@example("inputs: &a [*a]\n")                                      # recursive alias: RecursionError
@example("inputs: &a {b: *a}\n")
@example("inputs: {x: 3}\x00\n")                                   # reader error had no line:col
@example(BASE_TEXT + "rule: {name: [1]}\n")                        # TypeError: unhashable list
@example(BASE_TEXT + "rule: {name: {a: 1}}\n")                     # TypeError: unhashable dict
@example(BASE_TEXT.replace("learning_rate: 0.01", "learning_rate: {linear_schedule: [1]}"))  # TypeError
@example(BASE_TEXT.replace("learning_rate: 0.01", "learning_rate: {linear_schedule: 5}"))    # TypeError
@example(BASE_TEXT.replace("learning_rate: 0.01", "learning_rate: 0.01\n    b1: abc"))        # failed in training
@example(BASE_TEXT.replace("linear_schedule:\n            init_value: 0.0\n            end_value: 1.0\n"
                           "            transition_steps: 10",
                           "piecewise_constant_schedule: {init_value: 1.0, boundaries_and_scales: abc}"))  # AttrError
@example(BASE_TEXT.replace("init_value: 0.0", "init_value: abc"))  # TypeError when evaluated in training
@example(BASE_TEXT.replace("loss: mse", "loss: mse2"))             # silently fell back to mse
@example(BASE_TEXT.replace("weight: 0.5", "weight: .nan"))         # NaN weight accepted
@settings(SETTINGS, max_examples=120)
@given(text_strategy | mutated_text())
def test_random_text_loads_or_raises_wiring_error(text):
    check(text)


# --------------------------------------------------------------------------- random structures

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(alphabet=string.ascii_lowercase + "._->[]0123 ", max_size=12),
                    st.sampled_from(["rnn", "lstm", "readout", "x", "a.h", "a.input", "x -> a.input", "bg.output[2]",
                                     "adam", "backprop", "linear", "local", "global"]))
structures = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) |
                          st.dictionaries(st.text(alphabet=string.ascii_lowercase + "_", max_size=10) |
                                          st.sampled_from(list(BASE) + ["type", "from", "to", "delay", "gate",
                                                                        "hidden", "size", "costs", "schedule"]),
                                          kids, max_size=4), max_leaves=20)
documents = st.fixed_dictionaries({}, optional={k: structures for k in BASE}) | structures


@example({"inputs": {"x": 3}, "areas": {"a": {"type": "rnn"}}, "connections": ["x -> a.input"], "rule": {"name": []}})
@settings(SETTINGS, max_examples=100)
@given(documents)
def test_random_structures_load_or_raise_wiring_error(doc):
    check(yaml.safe_dump(doc, allow_unicode=True))


# --------------------------------------------------------------------------- mutations of a valid wiring

def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


refs = st.builds(lambda n, p, ch: n + (f".{p}" if p else "") + (f"[{ch}]" if ch is not None else ""),
                 st.sampled_from(["a", "l", "bg", "r", "x", "y", "nope", "1a"]),
                 st.sampled_from([None, "h", "c", "output", "input", "gate", "zz"]),
                 st.none() | st.integers(-3, 12))
values = st.one_of(scalars, refs, st.integers(-5, 10**9), st.floats(-10, 10),
                   st.sampled_from([{}, [], {"adamm": {"learning_rate": 0.1}}, {"sgd": {"learning_rte": 1}},
                                    {"linear_schedulee": {}}, {"exponential_decay": {"init_value": 1.0}},
                                    {"name": "backprob"}, {"supervised": {"target": "nope"}}]).map(copy.deepcopy),
                   structures)


@st.composite
def mutated_documents(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent, key = _get(doc, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "replace", "replace", "rename", "delay", "dim", "gate", "connection"]))
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(values)
        elif op == "rename" and isinstance(parent, dict):
            new = draw(refs | st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8))
            parent[new] = parent.pop(key)
        elif op == "delay":
            edges = [e for e in doc.get("connections") or [] if isinstance(e, dict)] \
                if isinstance(doc.get("connections"), list) else []
            if edges:
                draw(st.sampled_from(edges))["delay"] = draw(st.integers(-3, 5) | st.floats(-2, 3) | scalars)
        elif op == "dim":
            target = draw(st.sampled_from([("inputs", "x"), ("areas", "a", "hidden"), ("areas", "bg", "size"),
                                           ("areas", "l", "config", "hidden"), ("areas", "r", "replicas")]))
            try:
                _get(doc, target[:-1])[target[-1]] = draw(st.integers(-2, 12) | scalars)
            except (KeyError, TypeError, IndexError):
                pass
        elif op == "gate":
            edges = [e for e in doc.get("connections") or [] if isinstance(e, dict)] \
                if isinstance(doc.get("connections"), list) else []
            if edges:
                draw(st.sampled_from(edges))["gate"] = draw(refs)
        elif op == "connection" and isinstance(doc.get("connections"), list):
            doc["connections"].append(draw(st.builds(lambda s, d: f"{s} -> {d}", refs, refs) |
                                           st.fixed_dictionaries({"from": refs, "to": refs},
                                                                 optional={"delay": st.integers(-1, 3),
                                                                           "gate": refs,
                                                                           "projection": st.sampled_from(
                                                                               ["linear", "lineer"])})))
    return doc


@settings(SETTINGS, max_examples=200)
@given(mutated_documents())
def test_mutated_wirings_load_or_raise_wiring_error(doc):
    check(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
