"""Option declarations as data, and the JSON Schema of the wiring format generated from them.

The validator's own declarations are the single source: the wiring keys (:data:`brainsim.wiring.TOP_KEYS`,
``AREA_META``, ``EDGE_KEYS``, ...), every registered area type's ``Config`` dataclass, ports and cost
terms, the generic cost terms and their options, the learning rules, and the optax optimisers and
schedules the validator accepts.  ``brainsim schema`` prints it; with the first line

    # yaml-language-server: $schema=brainsim-wiring.schema.json

a YAML language server (VS Code, Neovim, ...) autocompletes and underlines wiring files.  The schema
checks structure and names (keys, types, enums, option names and types); what needs the graph
(dimensions, zero-delay cycles, which external inputs exist) is left to ``brainsim validate``.

:func:`options_of` turns a ``Config`` dataclass (or a scenario's ``defaults``, or a callable's
signature) into :class:`Option` records (name, type, default, one-line doc) for ``brainsim list NAME``.
An option's doc is, in this order: ``dataclasses.field(metadata={"doc": ...})``, the comment on the
field's line (``hidden: int = 32  # number of units``) or on its own line above the field, the string
literal under the field, or an
``option_docs = {name: doc}`` mapping on the class that owns the Config.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Optional

SCHEMA_ID = "https://brainsim.invalid/wiring.schema.json"  # an identifier, never fetched


@dataclass(frozen=True)
class Option:
    """One option: ``name``, ``type`` (human-readable), ``default`` (``MISSING``: required), ``doc``."""

    name: str
    type: str
    default: Any
    doc: str
    annotation: Any = None

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


# --------------------------------------------------------------------------- option introspection

def type_name(tp: Any) -> str:
    """A readable name of a type hint: ``int``, ``one of 'l1'|'kwta'``, ``list of int``, ``float or null``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is None:
        return "any"
    if origin is typing.Literal:
        return "one of " + "|".join(repr(a) if isinstance(a, str) else str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (tuple, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_name(args[0])}"
        if args:
            return f"list [{', '.join(type_name(a) for a in args)}]"
        return "list"
    if origin in (dict, Mapping):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _field_comments(cls: type) -> dict:
    """``{field: doc}`` from the source of a dataclass: the trailing ``# comment`` of the field's line, or
    a comment on its own line right above it, or the string literal right under it (an attribute docstring)."""
    try:
        src = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return {}
    comments, alone = {}, {}
    lines = src.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").strip()
                if lines[tok.start[0] - 1].strip().startswith("#"):
                    alone[tok.start[0]] = text  # a comment on its own line documents the field below it
                else:
                    comments[tok.start[0]] = text
    except (tokenize.TokenError, IndentationError):
        pass
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    out = {}
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            doc = comments.get(node.end_lineno) or comments.get(node.lineno) or alone.get(node.lineno - 1)
            nxt = body[i + 1] if i + 1 < len(body) else None
            if not doc and isinstance(nxt, ast.Expr) and isinstance(getattr(nxt, "value", None), ast.Constant) \
                    and isinstance(nxt.value.value, str):
                doc = " ".join(nxt.value.value.split())
            if doc:
                out[name] = doc
    return out


def options_of(obj: Any, docs: Optional[Mapping[str, str]] = None) -> list[Option]:
    """The options of a config dataclass, an object with a ``Config``, a scenario, or a callable.

    Args:
        obj: an Area class (its ``Config``), a dataclass, a :class:`~brainsim.scenario.Scenario`
            (``defaults`` with ``quick`` values), a rule class, or a callable (its keyword parameters).
        docs: extra ``{option: doc}`` (lowest precedence after the declarations).
    """
    extra = dict(getattr(obj, "option_docs", None) or {})
    extra.update(docs or {})
    cfg = getattr(obj, "Config", None)
    if cfg is not None and dataclasses.is_dataclass(cfg):
        obj = cfg
    if dataclasses.is_dataclass(obj):
        hints = typing.get_type_hints(obj)
        comments = _field_comments(obj)
        out = []
        for f in dataclasses.fields(obj):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            doc = f.metadata.get("doc") or comments.get(f.name) or extra.get(f.name, "")
            out.append(Option(f.name, type_name(hints.get(f.name, Any)), default, doc, hints.get(f.name, Any)))
        return out
    if callable(getattr(obj, "all_options", None)):  # a learning rule (brainsim.rules Option records)
        out = []
        for o in obj.all_options():
            tp = o.type + (" one of " + "|".join(o.choices) if getattr(o, "choices", ()) else "")
            out.append(Option(o.name, tp, o.default, o.doc, _RULE_TYPES.get(o.type, Any)))
        return out
    task_opts = getattr(obj, "options", None)
    if isinstance(task_opts, Mapping) and all(hasattr(o, "doc") and hasattr(o, "default")
                                              for o in task_opts.values()):  # a task (brainsim.tasks TaskOption)
        return [Option(n, o.type_name() if hasattr(o, "type_name") else type_name(o.type), o.default,
                       o.doc or extra.get(n, ""), o.type) for n, o in task_opts.items()]
    if isinstance(getattr(obj, "defaults", None), dict):  # a scenario
        return [Option(k, type(v).__name__ if v is not None else "any", v, extra.get(k, ""))
                for k, v in obj.defaults.items()]
    if isinstance(getattr(obj, "options", None), tuple) and all(isinstance(o, str) for o in obj.options):
        return [Option(o, "any", dataclasses.MISSING, extra.get(o, "")) for o in obj.options]  # a rule's names
    if callable(obj):
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            return []
        hints = {}
        try:
            hints = typing.get_type_hints(obj if not isinstance(obj, type) else obj.__init__)
        except Exception:  # noqa: BLE001 — unresolvable annotations: types shown as "any"
            pass
        arg_docs = {**google_args(inspect.getdoc(obj) or ""), **extra}
        out = []
        for n, p in sig.parameters.items():
            if n in ("self", "cls") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            tp = hints.get(n, type(p.default) if p.default not in (p.empty, None) else Any)
            out.append(Option(n, type_name(tp), dataclasses.MISSING if p.default is p.empty else p.default,
                              arg_docs.get(n, ""), tp))
        return out
    return []


_RULE_TYPES = {"float": float, "int": int, "bool": bool, "str": str, "ref": str}


def google_args(doc: str) -> dict:
    """``{name: first line}`` of the ``Args:`` / ``Attributes:`` / ``Options:`` section of a Google-style docstring."""
    out, active, indent = {}, False, None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Attributes:", "Options:"):
            active, indent = True, None
            continue
        if not active:
            continue
        if not stripped:
            continue
        lead = len(line) - len(line.lstrip())
        if indent is None:
            indent = lead
        if lead < indent or (stripped.endswith(":") and " " not in stripped):
            active = False
            continue
        if lead == indent and ":" in stripped:
            name, _, rest = stripped.partition(":")
            name = name.split("(")[0].strip()
            if name.isidentifier():
                out[name] = rest.strip()
    return out


def format_default(v: Any) -> str:
    """A default as a wiring file would write it (``true``, ``null``, ``[1, 2]``, ``"l1"``); required: ``(required)``."""
    if v is dataclasses.MISSING:
        return "(required)"
    return json.dumps(list(v) if isinstance(v, tuple) else v)


# --------------------------------------------------------------------------- JSON Schema

def _json_type(tp: Any) -> dict:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_json_type(a) if a is not type(None) else {"type": "null"} for a in args]}
    if origin in (tuple, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _json_type(args[0])}
        if args:
            return {"type": "array", "prefixItems": [_json_type(a) for a in args], "minItems": len(args),
                    "maxItems": len(args)}
        return {"type": "array"}
    return {}


def _schema_default(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _kwargs_schema(fn: Any, schedules: Optional[dict] = None) -> dict:
    """An object schema of a callable's keyword arguments (required ones required; no others unless **kwargs)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {"type": "object"}
    props, required = {}, []
    for n, p in params.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        s: dict = {}
        if isinstance(p.default, bool):
            s = {"type": "boolean"}
        elif isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            s = {"type": "number"}
        if schedules is not None and n in ("learning_rate", "b1", "b2", "momentum", "weight_decay", "eps"):
            s = {"anyOf": [{"type": "number"}, {"$ref": "#/$defs/schedule"}]}
        props[n] = s
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            required.append(n)
    out = {"type": ["object", "null"] if not required else "object", "properties": props}
    if required:
        out["required"] = required
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        out["additionalProperties"] = False
    return out


def _one_key(defs_key: str, names_fns: Mapping[str, Any], what: str, schedules: bool = False) -> dict:
    return {"description": what, "oneOf": [
        {"type": "object", "properties": {n: _kwargs_schema(fn, {} if schedules else None)}, "required": [n],
         "additionalProperties": False} for n, fn in names_fns.items()]}


def _schedule_fns() -> dict:
    import optax

    mod = getattr(optax, "schedules", optax)
    return {n: getattr(mod, n) for n in sorted(dir(mod)) if not n.startswith("_") and callable(getattr(mod, n))
            and (n.endswith("schedule") or n.endswith("decay"))}


def _cost_schema(options: tuple, doc: str) -> dict:
    props = {"weight": {"type": "number"}, "schedule": {"$ref": "#/$defs/schedule"}}
    for o in options:
        props[o] = {"type": "string"} if o in ("target", "mask", "port") else {}
    if "loss" in options:
        props["loss"] = {"enum": ["mse", "cross_entropy"]}
    return {"description": doc, "anyOf": [{"type": "number"},
                                          {"type": ["object", "null"], "properties": props,
                                           "additionalProperties": False}]}


def _rule_schema() -> dict:
    from .plugins import rule_registry

    rules = rule_registry()
    names = sorted(rules)
    variants = []
    for n in names:
        props = {"name": {"const": n}}
        for o in options_of(rules[n]):
            js = _json_type(o.annotation) if o.annotation not in (None, Any) else {}
            if o.type.startswith("schedule"):
                js = {"anyOf": [{"type": "number"}, {"$ref": "#/$defs/schedule"}]}
            if " one of " in o.type:
                js = {"enum": o.type.split(" one of ", 1)[1].split("|")}
            if o.default is None and js:
                js = {"anyOf": [js, {"type": "null"}]}
            props[o.name] = {**js, "description": o.doc} if o.doc else js
        variants.append({"type": "object", "properties": props, "required": ["name"], "additionalProperties": False})
    return {"description": "learning rule: a name, or {name: ..., options}",
            "anyOf": [{"enum": names}, *variants]}


def _area_variant(name: str, cls: type, meta: tuple) -> dict:
    from .costs import GENERIC_OPTIONS, GENERIC_TERMS

    options = {}
    for o in options_of(cls):
        s = dict(_json_type(o.annotation))
        if o.doc:
            s["description"] = o.doc
        if not o.required:
            s["default"] = _schema_default(o.default)
        options[o.name] = s
    costs = {t: _cost_schema(tuple(getattr(cls, "cost_options", {}).get(t, ())), str(doc))
             for t, doc in cls.cost_terms.items()}
    for t, fn in GENERIC_TERMS.items():
        costs.setdefault(t, _cost_schema(GENERIC_OPTIONS.get(t, ()), (inspect.getdoc(fn) or "").split("\n")[0]))
    props = {k: {"$ref": f"#/$defs/area_{k}"} for k in meta if k not in ("type", "config", "costs")}
    props.update(options)
    props["type"] = {"const": name}
    props["config"] = {"type": "object", "properties": options, "additionalProperties": False}
    props["costs"] = {"type": ["object", "null"], "properties": costs, "additionalProperties": False}
    doc = (inspect.getdoc(cls) or "").split("\n")[0]
    return {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": {"description": doc, "properties": props, "additionalProperties": False}}


def wiring_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a wiring file, from the validator's declarations."""
    from . import wiring
    from .area import area_types
    from .optim import optimizer_names
    from .plugins import load_plugins

    import optax

    load_plugins()
    types_ = area_types()
    name = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
    ref = {"type": "string", "pattern": r"^\s*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\s*(\[\s*-?\d+\s*\])?\s*$"}
    optimizer_one = _one_key("optimizer", {n: getattr(optax, n) for n in optimizer_names()},
                             "one optax transform: {name: {arguments}}", schedules=True)
    defs = {
        "name": name, "ref": ref,
        "schedule": _one_key("schedule", _schedule_fns(), "an optax schedule: {name: {arguments}}"),
        "optimizer_one": optimizer_one,
        "optimizer": {"description": "an optax transform, or a list of them (an optax.chain)",
                      "anyOf": [{"$ref": "#/$defs/optimizer_one"},
                                {"type": "array", "items": {"$ref": "#/$defs/optimizer_one"}, "minItems": 1}]},
        "rule": _rule_schema(),
        "area_rule": {"$ref": "#/$defs/rule"},
        "area_optimizer": {"$ref": "#/$defs/optimizer"},
        "area_credit": {"enum": list(wiring.CREDITS)},
        "area_replicas": {"type": "integer", "minimum": 1, "description": "copies with stacked parameters (vmap)"},
        "area_doc": {"type": "string"},
        "connection": {"anyOf": [
            {"type": "string", "pattern": r"^[^>]*\S\s*->\s*\S[^>]*$", "description": "source -> area.port"},
            {"type": "object", "required": ["from", "to"], "additionalProperties": False, "properties": {
                "from": {"$ref": "#/$defs/ref"}, "to": {"$ref": "#/$defs/ref"},
                "delay": {"type": "integer", "minimum": 0, "maximum": wiring.MAX_DELAY},
                "weight": {"type": "number"}, "gate": {"$ref": "#/$defs/ref"},
                "projection": {"enum": list(wiring.PROJECTIONS)}}}]},
    }
    meta = wiring.AREA_META
    area = {"type": "object", "required": ["type"],
            "properties": {"type": {"enum": list(types_), "description": "a registered area type (brainsim list areas)"}},
            "allOf": [_area_variant(n, c, meta) for n, c in types_.items()]}
    defs["area"] = area
    top = {
        "name": {"type": "string"}, "description": {"type": "string"},
        "imports": {"description": "plugin modules or .py paths (relative to this file) to import first",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "credit": {"enum": list(wiring.CREDITS)}, "optimizer": {"$ref": "#/$defs/optimizer"},
        "rule": {"$ref": "#/$defs/rule"},
        "inputs": {"type": ["object", "null"], "propertyNames": name,
                   "additionalProperties": {"type": "integer", "minimum": 1}},
        "areas": {"type": "object", "minProperties": 1, "propertyNames": name,
                  "additionalProperties": {"$ref": "#/$defs/area"}},
        "connections": {"type": ["array", "null"], "items": {"$ref": "#/$defs/connection"}},
        "probes": {"type": ["array", "null"], "items": {"$ref": "#/$defs/ref"}},
        "outputs": {"type": ["object", "null"], "propertyNames": name, "additionalProperties": {"$ref": "#/$defs/ref"}},
    }
    assert set(top) == set(wiring.TOP_KEYS), "schema out of sync with brainsim.wiring.TOP_KEYS"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "brainsim wiring", "description": "A brainsim wiring file (see `brainsim list`).",
            "type": "object", "required": ["inputs", "areas"], "additionalProperties": False,
            "properties": top, "$defs": defs}
