"""The Area base class, typed ports, configs and the area registry.

An area is a brain region written for **one sample** (no batch axis: the brain
vmaps over the batch, as equinox layers do).  A subclass declares

* ``Config``: a frozen dataclass of its static, hashable options,
* ``inputs`` / ``outputs``: ``{port: Port(dim)}`` where ``dim`` is an ``int``, a
  config expression (``"hidden"``, ``"slots * width"``, ``"input"`` — input
  port names may be used once resolved) or ``"auto"`` (take the dimension of
  whatever is connected),
* ``cost_terms``: ``{name: doc}`` of the local cost terms it offers,
* ``color`` (optional): its colour in drawings (``"#4C72B0"``; ``None``: a stable hashed colour),

and implements four hooks::

    build(rngs) -> nnx.Module | None        # learnable (nnx.Param) and fixed (Fixed) weights
    initial_state() -> dict[str, Array]     # per-sample dynamic state, fixed shapes/dtypes
    forward(module, state, inputs, key) -> (state, outputs)
    cost(term, module, ctx) -> scalar       # one sample, one step

The engine only calls the pure functions :meth:`Area.init`,
:meth:`Area.step` and :meth:`Area.step_costs`.

Example::

    @register_area("leaky")
    class Leaky(Area):
        @dataclasses.dataclass(frozen=True)
        class Config:
            tau: float = 10.0
        inputs = {"input": Port("auto")}
        outputs = {"output": Port("input")}
        def initial_state(self):
            return {"x": jnp.zeros(self.in_dims["input"])}
        def forward(self, module, state, inputs, key):
            x = state["x"] + (inputs["input"] - state["x"]) / self.config.tau
            return {"x": x}, {"output": x}
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.metadata
import math
import operator
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Optional

import jax
import jax.numpy as jnp
from flax import nnx

from .errors import AreaError, did_you_mean

Array = jax.Array
PyTree = Any


class Fixed(nnx.Variable):
    """A non-learned weight (fixed random projection, mask, …).

    It lives in the area's params (so replicas get their own and checkpoints
    keep it) but no rule or optimiser ever changes it.
    """


@dataclass(frozen=True)
class Port:
    """A typed port.

    Attributes:
        dim: ``int``, a config expression (``"hidden"``, ``"slots * width"``,
            or the name of an input port) or ``"auto"`` (inputs only: the
            dimension of whatever is connected).
        required: an input that must be connected (outputs ignore it).
        doc: one line for ``brainsim list``.
        default: the value an optional input reads when nothing is connected
            (e.g. 1.0 for a gate that is open unless driven).
    """

    dim: "int | str"
    required: bool = True
    doc: str = ""
    default: float = 0.0


@dataclass(frozen=True)
class StepContext:
    """What a cost term sees for one sample at one step.

    Attributes:
        inputs: ``{port: [dim]}`` the area received.
        outputs: ``{port: [dim]}`` the area emitted.
        state: the area state before the step.
        new_state: the area state after the step.
        targets: ``{name: [dim]}`` external arrays named by cost options.
        options: the cost term's static options from the wiring (hashable).
    """

    inputs: Mapping[str, Array]
    outputs: Mapping[str, Array]
    state: PyTree
    new_state: PyTree
    targets: Mapping[str, Array]
    options: Mapping[str, Any]


@dataclass(frozen=True)
class EmptyConfig:
    """An area without options."""


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, type["Area"]] = {}


def register_area(name: str) -> Callable[[type["Area"]], type["Area"]]:
    """Class decorator: make an area type available to wiring files as ``type: name``."""

    def deco(cls: type["Area"]) -> type["Area"]:
        if not (isinstance(cls, type) and issubclass(cls, Area)):
            raise AreaError(f"@register_area('{name}') decorates {cls!r}, which is not an Area subclass")
        if name in _REGISTRY and _REGISTRY[name].__qualname__ != cls.__qualname__:
            raise AreaError(f"area type '{name}' is registered twice ({_REGISTRY[name].__module__} and {cls.__module__})",
                            hint="give one of them another name")
        cls.type_name = name
        _check_declaration(cls)
        _REGISTRY[name] = cls
        return cls

    return deco


# Area catalogues: modules whose import registers area types.  A package declares its catalogue as an
# entry point, e.g. in pyproject.toml:   [project.entry-points."brainsim.areas"]   mine = "my_areas"
CATALOGUE_GROUP = "brainsim.areas"
BUILTIN_CATALOGUE = "brainsim.areas"  # brainsim's own catalogue (declared as the entry point `builtin`)
_catalogues = {"state": "unloaded"}  # unloaded | loading | loaded


def _catalogue_entry_points() -> list:
    try:
        eps = importlib.metadata.entry_points(group=CATALOGUE_GROUP)
    except Exception:  # noqa: BLE001 — broken metadata of some installed distribution: use the fallback
        return []
    return list({(ep.name, ep.value): ep for ep in eps}.values())


def load_catalogues() -> None:
    """Import every area catalogue once: each entry point of the group ``brainsim.areas``, then the
    built-in catalogue (``brainsim.areas``) by module name, so it is found when entry points are not installed.

    Raises:
        AreaError: a catalogue failed to import (the message names its entry point).
    """
    if _catalogues["state"] != "unloaded":  # loaded, or a catalogue being imported asks again
        return
    _catalogues["state"] = "loading"
    try:
        for ep in _catalogue_entry_points():
            try:
                ep.load()
            except Exception as e:  # noqa: BLE001 — a third party's bug, reported with its origin
                dist = getattr(getattr(ep, "dist", None), "name", None)
                raise AreaError(f"area catalogue entry point '{ep.name} = {ep.value}' (group '{CATALOGUE_GROUP}'"
                                f"{f', package {dist}' if dist else ''}) failed to load: {type(e).__name__}: {e}",
                                hint="fix or uninstall the package that declares it") from e
        try:
            importlib.import_module(BUILTIN_CATALOGUE)
        except Exception as e:  # noqa: BLE001
            raise AreaError(f"the built-in area catalogue '{BUILTIN_CATALOGUE}' failed to load: "
                            f"{type(e).__name__}: {e}", hint="reinstall brainsim (pip install -e .)") from e
    except BaseException:
        _catalogues["state"] = "unloaded"  # the next call tries (and reports) again
        raise
    _catalogues["state"] = "loaded"


def area_types() -> dict[str, type["Area"]]:
    """All registered area types, by name (every catalogue included, see :func:`load_catalogues`)."""
    load_catalogues()
    return dict(sorted(_REGISTRY.items()))


def get_area_type(name: str, where: Any = None) -> type["Area"]:
    """Look an area type up; an unknown one lists the known types and the closest."""
    types_ = area_types()
    if name not in types_:
        raise AreaError(
            f"unknown area type '{name}'{did_you_mean(name, types_)}",
            where,
            hint="known types: " + ", ".join(types_),
        )
    return types_[name]


def _check_declaration(cls: type["Area"]) -> None:
    if cls.color is not None and not isinstance(cls.color, str):
        raise AreaError(f"area '{cls.type_name}': color must be a colour string such as '#4C72B0' or None, "
                        f"found {cls.color!r}")
    cfg_fields = {f.name for f in dataclasses.fields(cls.Config)}
    clash = cfg_fields & set(cls.inputs)
    if clash:
        raise AreaError(f"area '{cls.type_name}': config fields {sorted(clash)} clash with input port names")
    for port, spec in {**cls.inputs, **cls.outputs}.items():
        if not isinstance(spec, Port):
            raise AreaError(f"area '{cls.type_name}': port '{port}' must be a Port(...), found {spec!r}")


# --------------------------------------------------------------------------- config

def build_config(cls: type["Area"], values: Mapping[str, Any], where: Callable[[tuple], Any] = lambda p: None):
    """Validate ``values`` against ``cls.Config`` and return the frozen config.

    Args:
        cls: the area class.
        values: the raw options from the wiring file.
        where: maps a key path (``("hidden",)``) to a location for messages.
    """
    fields = {f.name: f for f in dataclasses.fields(cls.Config)}
    hints = typing.get_type_hints(cls.Config)
    out = {}
    for key, value in values.items():
        if key not in fields:
            known = ", ".join(fields) or "(none)"
            raise AreaError(f"area type '{cls.type_name}' has no option '{key}'{did_you_mean(key, fields)}",
                            where((key,)), hint=f"options of '{cls.type_name}': {known}")
        out[key] = _coerce(value, hints[key], f"option '{key}' of area type '{cls.type_name}'", where((key,)))
    try:
        cfg = cls.Config(**out)
    except TypeError as e:  # a required option is missing
        raise AreaError(f"area type '{cls.type_name}': {e}", where(()),
                        hint="add the missing option to the area's block") from None
    check = getattr(cfg, "check", None)
    if check is not None:
        problem = check()
        if problem:
            raise AreaError(f"area type '{cls.type_name}': {problem}", where(()),
                            hint=f"`brainsim list {cls.type_name}` shows its options and their ranges")
    return cfg


MAX_INT_OPTION = 2 ** 31 - 1  # an integer option beyond int32 cannot be a size XLA builds


def _coerce(value: Any, tp: Any, what: str, where: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return freeze(value)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, what, where)
            except AreaError as e:
                errors.append(e)
        raise errors[0]
    if origin is typing.Literal:
        if value not in args:
            raise AreaError(f"{what} must be one of {', '.join(map(repr, args))}, found {value!r}"
                            f"{did_you_mean(value, map(str, args))}", where,
                            hint="choices: " + ", ".join(map(str, args)))
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise AreaError(f"{what} must be a list, found {type(value).__name__} {value!r}", where,
                            hint="write a list such as [16, 16]")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], what, where) for v in value)
        if len(args) != len(value):
            raise AreaError(f"{what} must have {len(args)} items, found {len(value)}", where,
                            hint=f"write a list of {len(args)} items")
        return tuple(_coerce(v, a, what, where) for v, a in zip(value, args))
    if tp is bool:
        if not isinstance(value, bool):
            raise AreaError(f"{what} must be true or false, found {value!r}", where, hint="write true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AreaError(f"{what} must be an integer, found {type(value).__name__} {value!r}", where,
                            hint="write a whole number (no decimal point, no quotes)")
        if abs(value) > MAX_INT_OPTION:
            raise AreaError(f"{what} must be at most {MAX_INT_OPTION:,} in size, found {value:,}", where,
                            hint="sizes and counts this large cannot be built")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AreaError(f"{what} must be a number, found {type(value).__name__} {value!r}", where,
                            hint="write a number such as 1.0 (no quotes; exponents with a dot: 1.0e-3)")
        if not math.isfinite(value):
            raise AreaError(f"{what} must be a finite number, found {value!r}", where,
                            hint="NaN and infinity are not valid option values")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise AreaError(f"{what} must be a string, found {type(value).__name__} {value!r}", where,
                            hint="quote it if YAML reads it as something else")
        return value
    return freeze(value)


def freeze(value: Any) -> Any:
    """Make YAML data hashable (lists -> tuples, dicts -> sorted tuples of pairs)."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


# --------------------------------------------------------------------------- dims

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv}


def eval_dim(expr: "int | str", names: Mapping[str, Any]) -> int:
    """Evaluate a port dimension expression (``"slots * width"``) over ``names``.

    Raises:
        KeyError: a name is not (yet) known (e.g. an "auto" input not resolved).
        ValueError: the expression is not made of names, integers and + - * //.
    """
    if isinstance(expr, int):
        return expr
    tree = ast.parse(str(expr), mode="eval")

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise KeyError(node.id)
            v = names[node.id]
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"'{node.id}' is {v!r}, not an integer")
            return v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(f"unsupported dimension expression {expr!r}")

    return int(ev(tree))


def resolve_dims(cls: type["Area"], config: Any, known_inputs: Mapping[str, int]) -> tuple[dict, dict]:
    """Resolve every port dimension of an area.

    Args:
        cls: the area class.
        config: its validated config.
        known_inputs: dims of "auto" input ports, from the graph (or the user).

    Returns:
        ``(in_dims, out_dims)``.

    Raises:
        KeyError: an "auto" port has no dim in ``known_inputs``.
    """
    names = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    in_dims = {}
    for port, spec in cls.inputs.items():
        if spec.dim == "auto":
            if port not in known_inputs:
                raise KeyError(port)
            in_dims[port] = int(known_inputs[port])
        else:
            in_dims[port] = eval_dim(spec.dim, names)
    names.update(in_dims)
    out_dims = {port: eval_dim(spec.dim, names) for port, spec in cls.outputs.items()}
    return in_dims, out_dims


# --------------------------------------------------------------------------- base class

class Area:
    """Base class of every brain area (see the module docstring)."""

    type_name: ClassVar[str] = ""
    color: ClassVar[str | None] = None  # its colour in drawings (a matplotlib colour); None: a hashed one
    Config: ClassVar[type] = EmptyConfig
    inputs: ClassVar[Mapping[str, Port]] = {}
    outputs: ClassVar[Mapping[str, Port]] = {}
    cost_terms: ClassVar[Mapping[str, str]] = {}
    # state keys that persist across episodes (memories, maps, slow traces); the rest is activity,
    # reset at every episode start (see brainsim.phases.carry_lifelong)
    lifelong: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None, *, dims: Optional[Mapping[str, int]] = None, name: str = "", **options):
        """Build an area.

        Args:
            config: a ``Config`` instance; or leave it out and pass ``options``.
            dims: dimensions of "auto" input ports, ``{port: int}``.
            name: the area's name in its brain (for messages).
            **options: config options, validated like a wiring file's.
        """
        if config is None:
            config = build_config(type(self), options, lambda p: f"{name or self.type_name}.{'.'.join(p)}")
        elif options:
            raise AreaError("pass either a config or options, not both")
        self.config = config
        self.name = name or self.type_name
        try:
            self.in_dims, self.out_dims = resolve_dims(type(self), config, dict(dims or {}))
        except KeyError as e:
            raise AreaError(f"area '{self.name}': the dimension of input port {e} is 'auto' and unknown",
                            hint=f"pass dims={{{str(e)}: N}} or connect the port in a wiring") from None
        self.graphdef = None

    # ---- hooks for subclasses -------------------------------------------------
    def build(self, rngs: nnx.Rngs) -> Optional[nnx.Module]:
        """Create the nnx module holding this area's weights (None: no weights)."""
        return None

    def initial_state(self) -> dict:
        """Per-sample dynamic state: a dict of arrays with fixed shapes and dtypes."""
        return {}

    def forward(self, module: Any, state: dict, inputs: Mapping[str, Array], key: Array) -> tuple[dict, dict]:
        """One step for one sample: ``(state, {port: [dim]}) -> (state, {port: [dim]})``."""
        raise NotImplementedError

    def cost(self, term: str, module: Any, ctx: StepContext) -> Array:
        """The value of cost term ``term`` for one sample at one step (a scalar)."""
        raise NotImplementedError(f"area type '{self.type_name}' offers no cost term '{term}'")

    # ---- pure functions the engine uses --------------------------------------
    def init(self, key: Array) -> tuple[nnx.State, dict]:
        """Create ``(params, state)``: params an ``nnx.State`` (``Param`` + ``Fixed``), state per sample."""
        module = self.build(nnx.Rngs(params=key))
        if module is None:
            self.graphdef, params = None, nnx.State({})
        else:
            self.graphdef, params = nnx.split(module)
        return params, self.initial_state()

    def module(self, params: nnx.State) -> Any:
        """Rebuild the nnx module from ``params`` (inside traced code too)."""
        if self.graphdef is None:
            if len(jax.tree.leaves(params)) == 0:
                return None
            module = self.build(nnx.Rngs(params=jax.random.key(0)))
            self.graphdef = nnx.split(module)[0]
        return nnx.merge(self.graphdef, params, copy=True) if _MERGE_HAS_COPY else nnx.merge(self.graphdef, params)

    def step(self, params: nnx.State, state: dict, inputs: Mapping[str, Array], *, key: Array) -> tuple[dict, dict]:
        """One step for one sample.

        Args:
            params: from :meth:`init`.
            state: per-sample state from :meth:`initial_state` or a previous step.
            inputs: ``{port: [in_dims[port]]}``; an optional port left out reads its ``Port.default``.
            key: a PRNG key used for this step only.

        Returns:
            ``(new_state, {port: [out_dims[port]]})``.
        """
        inputs = self.fill_inputs(inputs)
        return self.forward(self.module(params), state, inputs, key)

    def fill_inputs(self, inputs: Mapping[str, Array]) -> dict:
        full = {}
        for port in self.inputs:
            full[port] = inputs[port] if port in inputs else \
                jnp.full((self.in_dims[port],), self.inputs[port].default, jnp.float32)
        return full

    def step_costs(self, params, state, inputs, key, terms: Mapping[str, Callable], targets: Mapping[str, Array]):
        """One step plus the values of ``terms`` (``{name: fn(area, module, ctx)}``)."""
        inputs = self.fill_inputs(inputs)
        module = self.module(params)
        new_state, outputs = self.forward(module, state, inputs, key)
        costs = {}
        for name, fn in terms.items():
            ctx = StepContext(inputs, outputs, state, new_state, targets, getattr(fn, "options", {}))
            costs[name] = fn(self, module, ctx)
        return new_state, outputs, costs

    def param_count(self, params: nnx.State) -> int:
        """Number of learnable scalars (``nnx.Param`` leaves)."""
        learned = nnx.split_state(params, nnx.Param, ...)[0] if len(jax.tree.leaves(params)) else params
        return int(sum(x.size for x in jax.tree.leaves(learned)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, in={self.in_dims}, out={self.out_dims})"


try:  # flax >= 0.11 takes copy=...; keep both working
    import inspect as _inspect

    _MERGE_HAS_COPY = "copy" in _inspect.signature(nnx.merge).parameters
except (TypeError, ValueError):  # pragma: no cover
    _MERGE_HAS_COPY = False


def split_learned(params: nnx.State) -> tuple[nnx.State, nnx.State]:
    """Split an area's params into ``(learned nnx.Param, everything else)``."""
    if len(jax.tree.leaves(params)) == 0:
        return params, nnx.State({})
    return nnx.split_state(params, nnx.Param, ...)


def merge_learned(learned: nnx.State, rest: nnx.State) -> nnx.State:
    """Inverse of :func:`split_learned`."""
    if len(jax.tree.leaves(rest)) == 0:
        return learned
    if len(jax.tree.leaves(learned)) == 0:
        return rest
    return nnx.merge_state(learned, rest)
