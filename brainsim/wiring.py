"""YAML wiring file -> validated :class:`WiringSpec` (every error carries file:line:col).

Only safe YAML is read: the document is *composed* into nodes and built here
from plain scalars, lists and mappings; any other tag (``!!python/object``,
``!!binary``, custom tags) is an error, duplicate keys are errors, and alias
expansion is bounded (no billion-laughs).

The format (see the README for the full reference)::

    name: pbwm
    credit: local                  # default for every area (local | global)
    optimizer: {adam: {learning_rate: 1.0e-3}}   # default optimiser
    inputs:  {stimulus: 8, target: 2, mask: 1}
    areas:
      lstm:
        type: lstm
        hidden: 64                 # options inline, or under `config:`
        costs: {supervised: {weight: 1.0, target: target, mask: mask}}
        rule: backprop             # or {name: backprop, ...options}
        optimizer: {adam: {learning_rate: 1.0e-3}}   # or a list = optax.chain
        credit: global
        replicas: 1
    connections:
      - stimulus -> lstm.input
      - {from: lstm.h, to: out.input, delay: 1, weight: 0.5, gate: 'bg.gate[0]', projection: linear}
    probes: [lstm.h]
    outputs: {response: out.output}

Inside ``{...}`` a value with brackets must be quoted (``gate: 'bg.gate[0]'``);
in block style (``gate: bg.gate[0]`` on its own line) it need not be.
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from .area import freeze
from .costs import CostSpec
from .errors import Location, WiringError, did_you_mean

MAX_NODES = 100_000  # bound on composed nodes visited (alias expansion included)
MAX_DEPTH = 100  # bound on nesting depth (alias expansion included)
MAX_DELAY = 100_000  # bound on an edge's delay (steps): each delayed edge keeps a ring buffer this long
# ASCII only, and \Z (not $, which also matches before a trailing newline)
_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
_ENDPOINT = re.compile(r"\A[ \t]*([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?[ \t]*"
                       r"(?:\[[ \t]*(-?[0-9]+)[ \t]*\])?[ \t]*\Z", re.ASCII)
_WIRING_NAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}\Z", re.ASCII)  # a safe file name
_YAML11_WORDS = {True: "yes/on/true/y", False: "no/off/false/n"}

TOP_KEYS = ("name", "description", "imports", "credit", "optimizer", "rule", "inputs", "areas", "connections",
            "probes", "outputs")
AREA_META = ("type", "config", "costs", "rule", "optimizer", "credit", "replicas", "doc")
EDGE_KEYS = ("from", "to", "delay", "weight", "gate", "projection")
PROJECTIONS = ("linear",)
CREDITS = ("local", "global")


# --------------------------------------------------------------------------- specs

@dataclass(frozen=True)
class Ref:
    """``area.port[channel]`` or an external input ``name[channel]`` (``port`` is None)."""

    node: str
    port: Optional[str] = None
    channel: Optional[int] = None

    def __str__(self) -> str:
        s = self.node if self.port is None else f"{self.node}.{self.port}"
        return s if self.channel is None else f"{s}[{self.channel}]"


@dataclass(frozen=True)
class EdgeSpec:
    """One connection. ``src.port is None`` when the source is an external input."""

    src: Ref
    dst: Ref
    delay: int = 0
    weight: float = 1.0
    gate: Optional[Ref] = None
    projection: Optional[str] = None
    loc: Optional[Location] = None
    index: int = 0

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}"


@dataclass(frozen=True)
class AreaSpec:
    """One area block."""

    name: str
    type: str
    options: tuple  # sorted ((key, raw value), …) config options
    costs: tuple[CostSpec, ...] = ()
    rule: tuple = ("backprop", ())  # (name, ((key, value), …))
    optimizer: tuple = ()  # ((optax name, ((kwarg, value), …)), …) — a chain
    credit: str = "local"
    replicas: int = 1
    loc: Optional[Location] = None


@dataclass(frozen=True)
class WiringSpec:
    """A validated wiring document (structure only; graph checks come in :mod:`brainsim.graph`)."""

    name: str
    inputs: tuple  # ((name, dim), …) in file order
    areas: tuple[AreaSpec, ...]
    connections: tuple[EdgeSpec, ...]
    probes: tuple[Ref, ...]
    outputs: tuple  # ((name, Ref), …)
    file: str = "<string>"
    description: str = ""
    locs: Any = field(default=None, compare=False, hash=False)  # _Locs

    def where(self, *path, key: bool = False) -> Any:
        """Best location for a YAML path such as ``("areas", "bg", "channels")`` (``key``: the key's location)."""
        return self.locs.where(path, key=key) if self.locs is not None else ".".join(map(str, path))

    @property
    def input_dims(self) -> dict[str, int]:
        return dict(self.inputs)

    @property
    def area_map(self) -> dict[str, AreaSpec]:
        return {a.name: a for a in self.areas}


class _Locs:
    """Path -> Location of value nodes and of mapping keys."""

    def __init__(self, file: str):
        self.file = file
        self.values: dict[tuple, Location] = {}
        self.keys: dict[tuple, Location] = {}
        self.raw_keys: dict[tuple, Any] = {}  # path -> a mapping key YAML read as a non-string (no -> False)

    def where(self, path: tuple, key: bool = False) -> Location:
        path = tuple(path)
        while True:
            table = (self.keys, self.values) if key else (self.values, self.keys)
            for t in table:
                if path in t:
                    return t[path]
            if not path:
                return Location(self.file, 1, 1)
            path = path[:-1]


# --------------------------------------------------------------------------- safe YAML with locations

_ALLOWED_SCALARS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}


def _mark(file: str, node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass(frozen=True)
class _At:
    start_mark: Any


class _Loader(yaml.SafeLoader):
    """The safe loader, with the nesting depth bounded (PyYAML's composer recurses)."""

    def __init__(self, stream, file: str = "<string>"):
        super().__init__(stream)
        self._file, self._depth = file, 0

    def fetch_flow_collection_start(self, TokenClass):
        # bound flow nesting while scanning: the scanner's look-ahead is quadratic in the flow depth
        if self.flow_level >= MAX_DEPTH:
            raise WiringError(f"the document is nested more than {MAX_DEPTH} levels deep",
                              _mark(self._file, _At(self.get_mark())), hint="flatten the structure")
        return super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise WiringError(f"the document is nested more than {MAX_DEPTH} levels deep",
                                  _mark(self._file, self.peek_event()), hint="flatten the structure")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str, file: str):
    loader = _Loader(text, file)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _check_expansion(root, file: str) -> None:
    """Reject recursive aliases and documents whose alias expansion is too big or too deep.

    Sizes are computed once per composed node (memoised), so an alias bomb is
    rejected without being expanded.
    """
    memo: dict[int, int] = {}
    active: list = []

    def children(n):
        if isinstance(n, yaml.MappingNode):
            return [x for kv in n.value for x in kv]
        return list(n.value) if isinstance(n, yaml.SequenceNode) else []

    def size(n) -> int:
        if id(n) in memo:
            return memo[id(n)]
        if any(n is a for a in active):
            raise WiringError("recursive alias: a value contains itself", _mark(file, n),
                              hint="an alias (*name) cannot refer to an anchor (&name) that encloses it")
        if len(active) >= MAX_DEPTH:
            raise WiringError(f"the document is nested more than {MAX_DEPTH} levels deep (aliases expanded)",
                              _mark(file, n), hint="flatten the structure or use fewer nested aliases")
        active.append(n)
        total = 1 + sum(size(c) for c in children(n))
        active.pop()
        memo[id(n)] = total
        return total

    if size(root) <= MAX_NODES:
        return
    n = root  # point at the smallest value that alone expands past the bound
    while True:
        big = [c for c in children(n) if memo[id(c)] > MAX_NODES]
        if not big:
            break
        n = big[0]
    raise WiringError(f"the document expands to more than {MAX_NODES} nodes (alias/anchor bomb?): this value "
                      f"alone expands to {memo[id(n)]:,} nodes", _mark(file, n),
                      hint="remove the recursive or repeated aliases")


def load_yaml(text: str, file: str = "<string>") -> tuple[Any, _Locs]:
    """Parse YAML safely into plain Python data plus a location table."""
    locs = _Locs(file)
    try:
        node = _compose(text, file)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        msg = e.problem or e.context
        if e.problem and e.context:
            cm = e.context_mark
            msg += f" ({e.context}" + (f" at line {cm.line + 1}, column {cm.column + 1})" if cm else ")")
        hint = "check indentation, colons and brackets near this position"
        if e.context == "while parsing a flow mapping" and "'['" in str(e.problem):
            hint = ("inside {...} a value with brackets must be quoted, e.g. {from: x, to: a.input, "
                    "gate: 'bg.gate[0]'}, or write the mapping in block style")
        raise WiringError(f"invalid YAML: {msg}", where, hint=hint) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        code = ord(e.character) if isinstance(e.character, str) else e.character
        raise WiringError(f"invalid YAML: unacceptable character #x{code:04x}: {e.reason}",
                          Location(file, line, col), hint="remove control characters from the file") from None
    except yaml.YAMLError as e:
        raise WiringError(f"invalid YAML: {e}", Location(file, 1, 1)) from None
    except RecursionError:
        raise WiringError("the document is nested too deeply", Location(file, 1, 1),
                          hint="flatten the structure") from None
    if node is None:
        raise WiringError("the wiring file is empty", Location(file, 1, 1),
                          hint="a wiring needs at least `inputs`, `areas` and `connections` (see the README)")
    _check_expansion(node, file)
    constructor = yaml.SafeLoader("")
    budget = [MAX_NODES]

    def build(n, path):
        budget[0] -= 1
        if budget[0] < 0:
            raise WiringError(f"the document expands to more than {MAX_NODES} nodes (alias/anchor bomb?)",
                              _mark(file, n), hint="remove the recursive or repeated aliases")
        locs.values.setdefault(path, _mark(file, n))
        if isinstance(n, yaml.MappingNode):
            if n.tag != "tag:yaml.org,2002:map":
                raise WiringError(f"unsupported YAML tag '{n.tag}'", _mark(file, n),
                                  hint="wiring files use plain mappings, lists and scalars only")
            out = {}
            for k, v in n.value:
                if k.tag == "tag:yaml.org,2002:merge":
                    raise WiringError("YAML merge keys ('<<') are not supported", _mark(file, k),
                                      hint="write the keys out")
                key = build(k, path + ("<key>",))
                if isinstance(key, (dict, list)) or key is None:
                    raise WiringError(f"mapping keys must be plain names, found {key!r}", _mark(file, k),
                                      hint="write a name before the colon (an empty key or ~ reads as null)")
                if not isinstance(key, str):
                    raw = key
                    key = str(key)
                    locs.raw_keys[path + (key,)] = raw
                if key in out:
                    raise WiringError(f"duplicate key '{key}'", _mark(file, k),
                                      hint=f"'{key}' is already defined at line "
                                           f"{locs.keys[path + (key,)].line}; keep one")
                locs.keys[path + (key,)] = _mark(file, k)
                out[key] = build(v, path + (key,))
            locs.values.pop(path + ("<key>",), None)
            return out
        if isinstance(n, yaml.SequenceNode):
            if n.tag != "tag:yaml.org,2002:seq":
                raise WiringError(f"unsupported YAML tag '{n.tag}'", _mark(file, n),
                                  hint="wiring files use plain mappings, lists and scalars only")
            return [build(v, path + (i,)) for i, v in enumerate(n.value)]
        if n.tag not in _ALLOWED_SCALARS:
            raise WiringError(f"unsupported YAML tag '{n.tag}' on value {n.value!r}", _mark(file, n),
                              hint="remove the tag; wiring files hold plain strings, numbers and booleans "
                                   "(quote dates and other special values)")
        try:
            return constructor.construct_object(n)
        except Exception as e:  # the constructors raise ValueError, KeyError, IndexError, …
            value = n.value if len(n.value) <= 40 else n.value[:37] + "..."
            raise WiringError(f"cannot read {value!r} as {n.tag.rsplit(':', 1)[-1]}: {str(e)[:200]}", _mark(file, n),
                              hint="fix the value or quote it to make it a string") from None

    return build(node, ()), locs


# --------------------------------------------------------------------------- schema

class _Checker:
    def __init__(self, locs: _Locs):
        self.locs = locs

    def err(self, path, msg, hint=None, key=False):
        raise WiringError(msg, self.locs.where(tuple(path), key=key), hint)

    def mapping(self, value, path, what):
        if not isinstance(value, dict):
            self.err(path, f"{what} must be a mapping (key: value), found {_kind(value)}",
                     hint="write it as `key: value` lines indented under it")
        return value

    def keys(self, mapping, allowed, path, what):
        for k in mapping:
            if k not in allowed:
                self.err(tuple(path) + (k,), f"unknown key '{k}' in {what}{did_you_mean(k, allowed)}",
                         hint="allowed keys: " + ", ".join(allowed), key=True)

    def name(self, value, path, what):
        raw = self.locs.raw_keys.get(tuple(path), value)
        if isinstance(raw, bool):
            self.err(path, f"{what} must be a name, found the boolean {str(raw).lower()} (YAML 1.1 reads an unquoted "
                           f"{_YAML11_WORDS[raw]} as a boolean)", key=True,
                     hint=f"quote it to use it as a name, e.g. \"{self._source_text(path) or value}\": ...")
        if not isinstance(raw, str) or not _NAME.match(value):
            self.err(path, f"{what} must be a name (ASCII letters, digits and _, not starting with a digit), "
                           f"found {raw!r}", key=True,
                     hint="e.g. stimulus, cortex_2; names become keys of the params and of the run directory")
        return value

    def _source_text(self, path) -> Optional[str]:
        """The key as written in the file (e.g. ``no``), read back from its location."""
        loc = self.locs.keys.get(tuple(path))
        try:
            line = Path(loc.file).read_text(encoding="utf-8").splitlines()[loc.line - 1]
        except (OSError, AttributeError, IndexError, UnicodeDecodeError):
            return None
        m = re.match(r"[A-Za-z0-9_]+", line[loc.col - 1:])
        return m.group(0) if m else None

    def integer(self, value, path, what, minimum=None):
        if isinstance(value, bool) or not isinstance(value, int):
            self.err(path, f"{what} must be an integer, found {_kind(value)} {value!r}",
                     hint=f"write a whole number{f' >= {minimum}' if minimum is not None else ''}, e.g. "
                          f"{max(minimum or 0, 1)}")
        if minimum is not None and value < minimum:
            self.err(path, f"{what} must be >= {minimum}, found {value}", hint=f"e.g. {max(minimum, 1)}")
        return value

    def number(self, value, path, what):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.err(path, f"{what} must be a number, found {_kind(value)} {value!r}",
                     hint=_number_hint(value) or "write a number such as 1.0 (no quotes)")
        if not math.isfinite(value):
            self.err(path, f"{what} must be a finite number, found {value!r}",
                     hint="NaN and infinity (.nan, .inf) are not valid here")
        return float(value)

    def choice(self, value, choices, path, what):
        if value not in choices:
            self.err(path, f"{what} must be one of {', '.join(choices)}, found {value!r}{did_you_mean(str(value), choices)}",
                     hint="choices: " + ", ".join(choices))
        return value


def _number_hint(v) -> Optional[str]:
    """A hint for numbers YAML 1.1 reads as strings (``1e-3`` needs a dot: ``1.0e-3``)."""
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return None
        return f"YAML reads '{v}' as a string; write exponents with a dot, e.g. 1.0e-3"
    return None


def _kind(v) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing (null)"}.get(type(v), type(v).__name__)


def parse_ref(text: Any, c: _Checker, path, what: str, allow_channel: bool = False) -> Ref:
    """Parse ``area.port``, ``area.port[k]`` or ``input``/``input[k]``."""
    m = _ENDPOINT.match(text) if isinstance(text, str) else None
    if not m:
        c.err(path, f"{what} must look like 'area.port' or 'input_name', found {text!r}",
              hint="e.g. cortex.code, bg.gate[0] or stimulus")
    node, port, ch = m.group(1), m.group(2), m.group(3)
    if ch is not None and not allow_channel:
        c.err(path, f"{what} cannot select a channel ([{ch}]) here", hint="remove the [..]")
    return Ref(node, port, int(ch) if ch is not None else None)


def _parse_optimizer(value, c: _Checker, path) -> tuple:
    """``{adam: {learning_rate: 1e-3}}`` or a list of such (an optax chain)."""
    from .optim import check_optimizer

    items = value if isinstance(value, list) else [value]
    if not items:
        c.err(path, "optimizer list is empty", hint="e.g. optimizer: {adam: {learning_rate: 1.0e-3}}")
    chain = []
    for i, item in enumerate(items):
        p = tuple(path) + ((i,) if isinstance(value, list) else ())
        if isinstance(item, str):
            item = {item: {}}
        c.mapping(item, p, "an optimizer")
        if len(item) != 1:
            c.err(p, f"an optimizer entry names exactly one optax transform, found {len(item)} ({', '.join(item)})",
                  hint="use a list for a chain: [{clip_by_global_norm: {max_norm: 1.0}}, {adam: {...}}]")
        (name, kwargs), = item.items()
        kwargs = {} if kwargs is None else kwargs
        c.mapping(kwargs, p + (name,), f"the arguments of optimizer '{name}'")
        check_optimizer(name, kwargs, c.locs.where(p + (name,), key=True))
        chain.append((name, freeze(kwargs)))
    return tuple(chain)


def _parse_rule(value, c: _Checker, path) -> tuple:
    from .rules import RULES

    if isinstance(value, str):
        name, opts = value, {}
    else:
        c.mapping(value, path, "rule")
        opts = dict(value)
        if "name" not in opts:
            c.err(path, "a rule mapping needs a 'name'", hint="e.g. rule: {name: backprop}")
        name = opts.pop("name")
    if not isinstance(name, str):
        c.err(tuple(path) + (("name",) if isinstance(value, dict) else ()),
              f"a rule name must be a string, found {_kind(name)}", hint="rules: " + ", ".join(RULES))
    if name not in RULES:
        c.err(path, f"unknown learning rule '{name}'{did_you_mean(str(name), RULES)}",
              hint="rules: " + ", ".join(RULES))
    RULES[name].check_options(opts, lambda k: c.locs.where(tuple(path) + (k,), key=True))
    return name, freeze(opts)


def _weight(c: _Checker, v, path, name: str) -> float:
    """A cost weight: a finite number >= 0 (a negative weight would maximise the cost)."""
    w = c.number(v, path, f"the weight of cost '{name}'")
    if w < 0:
        c.err(path, f"the weight of cost '{name}' must be >= 0, found {w}",
              hint="a negative weight would make the area maximise this cost; use 0 to switch it off")
    return w


def _parse_costs(value, c: _Checker, path) -> tuple[CostSpec, ...]:
    from .costs import check_schedule

    c.mapping(value, path, "costs")
    out = []
    for name, v in value.items():
        p = tuple(path) + (name,)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(CostSpec(name, _weight(c, v, p, name)))
            continue
        c.mapping(v, p, f"cost term '{name}'")
        opts = dict(v)
        weight = _weight(c, opts.pop("weight", 1.0), p + ("weight",), name)
        sched = opts.pop("schedule", None)
        if sched is not None:
            c.mapping(sched, p + ("schedule",), "a schedule")
            if len(sched) != 1:
                c.err(p + ("schedule",), "a schedule names exactly one optax schedule",
                      hint="e.g. schedule: {linear_schedule: {init_value: 0.0, end_value: 1.0, transition_steps: 100}}")
            (sname, skw), = sched.items()
            skw = {} if skw is None else skw
            c.mapping(skw, p + ("schedule", sname), f"the arguments of schedule '{sname}'")
            check_schedule(sname, dict(freeze(skw)), c.locs.where(p + ("schedule", sname), key=True))
            sched = (sname, freeze(skw))
        out.append(CostSpec(name, weight, sched, freeze(opts)))
    return tuple(out)


def build_spec(data: Any, locs: _Locs) -> WiringSpec:
    """Validate the document's structure and build a :class:`WiringSpec` (one phase per section)."""
    c = _Checker(locs)
    _import_plugins(data, c, locs)
    name, defaults = _parse_document(data, locs, c)
    inputs = _parse_inputs(data, c)
    areas_raw = c.mapping(data["areas"], ("areas",), "areas")
    if not areas_raw:
        c.err(("areas",), "the wiring declares no areas", hint="add at least one area under `areas:`")
    areas = [_parse_area(aname, block, inputs, defaults, c, locs) for aname, block in areas_raw.items()]
    conns_raw = data.get("connections") or []
    if not isinstance(conns_raw, list):
        c.err(("connections",), f"connections must be a list, found {_kind(conns_raw)}",
              hint="write each connection on its own line starting with '- '")
    edges = [_parse_connection(i, item, inputs, areas_raw, c, locs) for i, item in enumerate(conns_raw)]
    probes, outputs = _parse_probes_and_outputs(data, c)
    return WiringSpec(name, tuple(inputs.items()), tuple(areas), tuple(edges), probes, outputs,
                      locs.file, str(data.get("description", "")), locs)


def _import_plugins(data: Any, c: _Checker, locs: _Locs) -> None:
    """Entry-point plugins, then the document's ``imports:`` (module names or ``.py`` paths relative to the
    wiring file), so that plugin areas, rules and cost terms are known before anything is checked."""
    from .plugins import import_all, load_plugins

    load_plugins()
    if not isinstance(data, dict) or data.get("imports") is None:
        return
    imports = data["imports"]
    imports = [imports] if isinstance(imports, str) else imports
    if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
        c.err(("imports",), f"imports must be a list of module names or .py paths, found {_kind(data['imports'])}",
              hint="e.g. imports: [my_package.areas, my_area.py]")
    base = None if locs.file.startswith("<") else Path(locs.file).parent
    import_all(imports, base, lambda i: locs.where(("imports", i)))


def _parse_document(data: Any, locs: _Locs, c: _Checker) -> tuple[str, tuple]:
    """Top-level keys, the name, and the defaults areas inherit: ``(name, (credit, optimizer, rule))``."""
    c.mapping(data, (), "the wiring document")
    c.keys(data, TOP_KEYS, (), "the wiring document")
    for required in ("inputs", "areas"):
        if required not in data:
            c.err((), f"the wiring has no '{required}' section",
                  hint="a wiring needs `inputs:` (external signals and their dims) and `areas:`")
    name = data.get("name", Path(locs.file).stem)
    if not isinstance(name, str):
        c.err(("name",), f"name must be a string, found {_kind(name)}", hint="e.g. name: my_brain")
    if "name" in data and (not _WIRING_NAME.match(name) or name.endswith(".")):
        c.err(("name",), f"the wiring name must be a plain name (letters, digits, _ . + -, not starting with '.' "
                         f"or '-'), found {name!r}",
              hint="the name labels checkpoints and files in run directories, so it cannot be a path such as '..'")
    default_credit = c.choice(data.get("credit", "local"), CREDITS, ("credit",), "credit")
    default_opt = _parse_optimizer(data["optimizer"], c, ("optimizer",)) if "optimizer" in data else \
        (("adam", (("learning_rate", 1e-3),)),)
    default_rule = _parse_rule(data["rule"], c, ("rule",)) if "rule" in data else ("backprop", ())
    return name, (default_credit, default_opt, default_rule)


def _parse_inputs(data: Any, c: _Checker) -> dict:
    """``{input name: dim}``."""
    inputs = c.mapping(data["inputs"] if data["inputs"] is not None else {}, ("inputs",), "inputs")
    for k, v in inputs.items():
        c.name(k, ("inputs", k), "an input name")
        c.integer(v, ("inputs", k), f"the dimension of input '{k}'", minimum=1)
    return inputs


def _parse_area(aname: Any, block: Any, inputs: Mapping, defaults: tuple, c: _Checker, locs: _Locs) -> AreaSpec:
    """One entry of ``areas:`` (its type, options, costs, rule, optimiser, credit, replicas)."""
    default_credit, default_opt, default_rule = defaults
    p = ("areas", aname)
    c.name(aname, p, "an area name")
    if aname in inputs:
        c.err(p, f"duplicate name '{aname}': it is both an input and an area",
              hint="rename one of them", key=True)
    c.mapping(block, p, f"area '{aname}'")
    if "type" not in block:
        c.err(p, f"area '{aname}' has no 'type'", hint="e.g. type: lstm (see `brainsim list`)", key=True)
    atype = block["type"]
    if not isinstance(atype, str):
        c.err(p + ("type",), f"the type of area '{aname}' must be a string, found {_kind(atype)}")
    options = {k: v for k, v in block.items() if k not in AREA_META}
    if "config" in block:
        cfg = c.mapping(block["config"], p + ("config",), f"the config of area '{aname}'")
        for k in cfg:
            if k in options:
                c.err(p + ("config", k), f"option '{k}' of area '{aname}' is given twice (inline and in config)",
                      key=True)
        options.update(cfg)
    costs = _parse_costs(block["costs"], c, p + ("costs",)) if block.get("costs") is not None else ()
    rule = _parse_rule(block["rule"], c, p + ("rule",)) if "rule" in block else default_rule
    opt = _parse_optimizer(block["optimizer"], c, p + ("optimizer",)) if "optimizer" in block else default_opt
    credit = c.choice(block.get("credit", default_credit), CREDITS, p + ("credit",), f"credit of area '{aname}'")
    replicas = c.integer(block.get("replicas", 1), p + ("replicas",), f"replicas of area '{aname}'", minimum=1)
    return AreaSpec(aname, atype, tuple(sorted(options.items(), key=lambda kv: kv[0])), costs, rule, opt,
                    credit, replicas, locs.where(p, key=True))


def _parse_connection(i: int, item: Any, inputs: Mapping, areas_raw: Mapping, c: _Checker,
                      locs: _Locs) -> EdgeSpec:
    """Connection ``i``: ``'source -> area.port'`` or a mapping with delay, weight, gate, projection."""
    p = ("connections", i)
    if isinstance(item, str):
        parts = item.split("->")
        if len(parts) != 2:
            c.err(p, f"a connection must look like 'source -> area.port', found {item!r}",
                  hint="e.g. - stimulus -> cortex.input")
        fields = {"from": parts[0].strip(), "to": parts[1].strip()}
    else:
        fields = c.mapping(item, p, "a connection")
        c.keys(fields, EDGE_KEYS, p, "a connection")
        for req in ("from", "to"):
            if req not in fields:
                c.err(p, f"a connection needs '{req}'", hint="e.g. {from: cortex.code, to: wm.write, delay: 1}")
    src = parse_ref(fields["from"], c, p + (("from",) if isinstance(item, dict) else ()), "a connection source",
                    allow_channel=True)
    dst = parse_ref(fields["to"], c, p + (("to",) if isinstance(item, dict) else ()), "a connection target")
    if dst.node in inputs:
        c.err(p, f"a connection target must be an area port, found '{dst}', which is an external input",
              hint="external inputs only send signals; connect into an area port, e.g. "
                   f"{next(iter(areas_raw))}.input")
    if dst.port is None:
        c.err(p, f"a connection target must name a port: 'area.port', found '{dst}'",
              hint=f"e.g. {dst.node}.input")
    delay = fields.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int):
        c.err(p + ("delay",), f"delay must be an integer number of steps, found {_kind(delay)} {delay!r}",
              hint="e.g. delay: 1 (steps are whole numbers)")
    if delay < 0:
        c.err(p + ("delay",), f"delay must be >= 0 steps, found {delay}",
              hint="a signal cannot arrive before it is sent; use 0 (same step) or a positive delay")
    if delay > MAX_DELAY:
        c.err(p + ("delay",), f"delay must be <= {MAX_DELAY:,} steps, found {delay:,}",
              hint="each delayed edge keeps a ring buffer of `delay` steps in the brain state")
    weight = c.number(fields.get("weight", 1.0), p + ("weight",), "weight")
    gate = None
    if fields.get("gate") is not None:
        gate = parse_ref(fields["gate"], c, p + ("gate",), "gate", allow_channel=True)
    proj = fields.get("projection")
    if proj is not None:
        c.choice(proj, PROJECTIONS, p + ("projection",), "projection")
    return EdgeSpec(src, dst, delay, weight, gate, proj, locs.where(p), i)


def _parse_probes_and_outputs(data: Any, c: _Checker) -> tuple[tuple, tuple]:
    """``(probes, ((output name, Ref), ...))``."""
    probes_raw = data.get("probes") or []
    if not isinstance(probes_raw, list):
        c.err(("probes",), f"probes must be a list of 'area.port', found {_kind(probes_raw)}")
    probes = tuple(parse_ref(v, c, ("probes", i), "a probe") for i, v in enumerate(probes_raw))
    outputs_raw = c.mapping(data.get("outputs") or {}, ("outputs",), "outputs")
    outputs = []
    for k, v in outputs_raw.items():
        c.name(k, ("outputs", k), "an output name")
        ref = parse_ref(v, c, ("outputs", k), f"output '{k}'")
        if ref.port is None:
            c.err(("outputs", k), f"output '{k}' must name an area port 'area.port', found '{v}'",
                  hint="outputs read area ports, e.g. response: motor.output")
        outputs.append((k, ref))
    return probes, tuple(outputs)


def set_path(data: dict, dotted: str, value: Any) -> None:
    """Apply an override ``areas.lstm.hidden=64`` to raw wiring data (creates the last key)."""
    keys = dotted.split(".")
    cur = data
    for i, k in enumerate(keys[:-1]):
        if isinstance(cur, list) and k.isdigit() and int(k) < len(cur):
            cur = cur[int(k)]
            continue
        if not isinstance(cur, dict) or k not in cur:
            have = list(cur) if isinstance(cur, dict) else []
            raise WiringError(f"--set {dotted}: '{'.'.join(keys[:i + 1])}' does not exist{did_you_mean(k, have)}",
                              "--set", hint=("keys here: " + ", ".join(map(str, have))) if have else None)
        cur = cur[k]
    if not isinstance(cur, dict):
        raise WiringError(f"--set {dotted}: '{'.'.join(keys[:-1])}' is not a mapping", "--set")
    cur[keys[-1]] = value


def parse_wiring(text: str, file: str = "<string>", overrides: Optional[Mapping[str, Any]] = None) -> WiringSpec:
    """Parse and validate wiring text. ``overrides``: ``{dotted.path: value}`` applied first."""
    data, locs = load_yaml(text, file)
    for k, v in (overrides or {}).items():
        set_path(data, k, v)
    return build_spec(data, locs)


# --------------------------------------------------------------------------- canonical wirings

def _package_dir(name: str) -> Path:
    """Where a data package of brainsim lives (the repo's ``wiring/`` in a checkout, ``brainsim/wirings/``
    in an installed wheel), found without importing it."""
    spec = importlib.util.find_spec(name)
    return Path(next(iter(spec.submodule_search_locations)))


WIRING_DIR = _package_dir("brainsim.wirings")  # the canonical architectures
WIRING_SUFFIXES = (".yaml", ".yml")


def wiring_names() -> list[str]:
    """Names of the canonical wirings (``wiring/*.yaml``): ``pbwm``, ``lstm_baseline``, ..."""
    return sorted(p.stem for p in WIRING_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def find_wiring(name_or_path: "str | Path") -> Path:
    """A canonical wiring name (``"pbwm"``) or a path -> the wiring file's path.

    A :class:`~pathlib.Path`, an existing file, or a string that looks like a path (a ``.yaml`` /
    ``.yml`` suffix or a directory separator) is returned as given (reading it reports a missing
    file); any other string must be a canonical name.

    Raises:
        WiringError: an unknown canonical name (the message lists the names, with the closest).
    """
    if isinstance(name_or_path, Path):
        return name_or_path
    text = str(name_or_path)
    p = Path(text)
    if p.suffix in WIRING_SUFFIXES or "/" in text or "\\" in text or p.is_file():
        return p
    candidate = WIRING_DIR / f"{text}.yaml"
    if candidate.is_file():
        return candidate
    names = wiring_names()
    raise WiringError(f"unknown wiring '{text}'{did_you_mean(text, names)}", text,
                      hint="canonical wirings: " + (", ".join(names) or "(none)") + "; or give a path to a .yaml file")


MAX_WIRING_BYTES = 1 << 20  # 1 MiB; BRAINSIM_MAX_WIRING_BYTES overrides it


def max_wiring_bytes() -> int:
    """The size limit of a wiring file (``BRAINSIM_MAX_WIRING_BYTES``, default 1 MiB)."""
    import os

    v = os.environ.get("BRAINSIM_MAX_WIRING_BYTES")
    try:
        return int(v) if v else MAX_WIRING_BYTES
    except ValueError:
        raise WiringError(f"BRAINSIM_MAX_WIRING_BYTES must be an integer number of bytes, found {v!r}",
                          "BRAINSIM_MAX_WIRING_BYTES", hint="e.g. BRAINSIM_MAX_WIRING_BYTES=4194304") from None


def read_wiring_text(path: "str | Path") -> str:
    """A wiring file's text: a regular file (FIFOs, devices such as ``/dev/zero`` and folders are refused
    before anything is read), at most :func:`max_wiring_bytes` long, UTF-8.

    Raises:
        WiringError: missing, not a regular file, too large, unreadable or not UTF-8.
    """
    import os
    import stat

    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise WiringError(f"wiring file '{path}' does not exist", str(path),
                          hint="give a path to a .yaml file, e.g. wiring/pbwm.yaml, or a canonical name "
                               "(`brainsim list`)") from None
    except OSError as e:
        raise WiringError(f"cannot read wiring file '{path}': {e.strerror or e}", str(path),
                          hint="check the path and its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) \
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket or special file"
        raise WiringError(f"wiring file '{path}' is {kind}, not a regular file", str(path),
                          hint="give the path to a .yaml file")
    limit = max_wiring_bytes()
    if st.st_size > limit:
        raise WiringError(f"wiring file '{path}' is {st.st_size:,} bytes; the limit is {limit:,}", str(path),
                          hint="wiring files are small; set BRAINSIM_MAX_WIRING_BYTES to raise the limit")
    try:
        with open(p, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise WiringError(f"cannot read wiring file '{path}': {e.strerror or e}", str(path),
                          hint="check the path and its permissions") from None
    if len(raw) > limit:
        raise WiringError(f"wiring file '{path}' is larger than the limit of {limit:,} bytes", str(path),
                          hint="set BRAINSIM_MAX_WIRING_BYTES to raise the limit")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise WiringError(f"the wiring file is not UTF-8 text: {e.reason} (byte 0x{raw[e.start]:02x})",
                          Location(str(path), line, col), hint="save the file as UTF-8") from None


def load_wiring(path: "str | Path", overrides: Optional[Mapping[str, Any]] = None) -> WiringSpec:
    """Read and validate a wiring file, given by path or canonical name (``"pbwm"``, see :func:`find_wiring`)."""
    path = find_wiring(path)
    return parse_wiring(read_wiring_text(path), str(path), overrides)
