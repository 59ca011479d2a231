"""The rule interface: options, needs, context, registry, three-factor modulation.

A rule is shaped like an optax transform: a factory (the rule class) checks its
options and gives a pure pair::

    init(params) -> rule_state
    update(ctx: RuleContext, rule_state) -> (pseudo_gradient, rule_state)

``params`` is the area's learnable tree ``{"area": {...}, "projections": {...}}``;
the pseudo-gradient has its structure and goes through the area's own optax
optimiser (which *descends* it: a Hebbian rule returns minus its weight
change); the rule state lives inside the optimiser state (checkpointed).

A rule declares what it needs from the step (``needs``, a frozenset of):

* ``"grad"``: the gradient from the brain's single ``jax.grad`` pass;
* ``"pre"``: the area's presynaptic inputs per step, ``ctx.pre() -> {port: [T, B, d]}``;
* ``"post"``: its outputs per step, ``ctx.outputs {port: [T, B, d]}``;
* ``"local_cost"``: ``ctx.replay(params, noise=None) -> Replay``: this area alone re-run on its
  recorded inputs (its own cost terms only, per-step weights of the modulator applied);
* ``"synapses"``: a learned ``[in, out]`` matrix mapping an input port to an output port
  (``ctx.synapses``, see :func:`synapses_of`);
* ``"lattice"``: a map area (``area.lattice [units, 2]`` and a ``coords`` output);
* ``"energy"``: an energy-based area (``area.settle``, ``area.energy``, see ``areas/energy.py``);
* ``"layers"``: a layered feedforward area (``area.ff_layers``, see :func:`ff_layers_of`).

The graph check (:func:`missing_need`) rejects a rule on an area that cannot
supply one of them.

Three-factor plasticity: every rule but ``none`` takes ``modulated_by:
area.port`` (a dim-1 output) and ``tau``.  The modulator ``m_t`` gates the
update of step ``t``; with an eligibility trace ``e_t = sum_{s<=t} exp(-(t-s)/tau) c_s``
of the per-step contributions ``c_s`` the update is ``sum_t m_t e_t``, which equals
``sum_s w_s c_s`` with ``w_s = sum_{t>=s} m_t exp(-(t-s)/tau)``
(:func:`step_weights`, one reverse scan).  Every rule averages its per-step
contributions with these weights (``ctx.weights [T, B]``); replay-based rules
weight each step's cost by them.  ``m = 0`` gives exactly zero update.
Reference: Gerstner, Lehmann, Liakoni, Corneil & Brea (2018) Front Neural Circuits 12:53.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp

from ..errors import WiringError, did_you_mean


# --------------------------------------------------------------------------- options

@dataclass(frozen=True)
class Option:
    """One rule option.

    Attributes:
        name: its key in the wiring.
        type: ``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"ref"`` (``area.port``) or
            ``"schedule"`` (a number or ``{optax schedule: {kwargs}}``).
        default: the value when left out (None: unset).
        doc: one line for ``brainsim list rules``.
        lo, hi: inclusive bounds for numbers (None: unbounded); ``lo_open``: ``lo`` excluded.
        choices: allowed strings.
    """

    name: str
    type: str
    default: Any
    doc: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    choices: tuple = ()

    def describe(self) -> str:
        rng = ""
        if self.lo is not None or self.hi is not None:
            rng = f" in {'(' if self.lo_open else '['}{self.lo if self.lo is not None else '-inf'}, " \
                  f"{self.hi if self.hi is not None else 'inf'}]"
        if self.choices:
            rng = " one of " + "|".join(self.choices)
        return f"{self.name}: {self.type}{rng} = {self.default!r}  {self.doc}"

    def check(self, value: Any, rule: str, where: Any) -> Any:
        """The checked value (numbers as float/int); a :class:`WiringError` at ``where`` otherwise."""
        what = f"option '{self.name}' of rule '{rule}'"
        if value is None and self.default is None:
            return None
        if self.type == "bool":
            if not isinstance(value, bool):
                raise WiringError(f"{what} must be true or false, found {value!r}", where)
            return value
        if self.type == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise WiringError(f"{what} must be one of {', '.join(self.choices)}, found {value!r}"
                                  f"{did_you_mean(str(value), self.choices)}", where)
            return value
        if self.type == "ref":
            if not isinstance(value, str) or value.count(".") != 1 or not all(value.split(".")):
                raise WiringError(f"{what} must name an area output as 'area.port', found {value!r}", where,
                                  hint="e.g. modulated_by: bg.dopamine")
            return value
        if self.type == "schedule" and isinstance(value, Mapping):
            from ..costs import check_schedule

            if len(value) != 1:
                raise WiringError(f"{what}: a schedule names exactly one optax schedule, found {list(value)}", where,
                                  hint="e.g. {exponential_decay: {init_value: 1.0, transition_steps: 100, "
                                       "decay_rate: 0.5}}")
            (sname, kw), = value.items()
            if kw is not None and not isinstance(kw, Mapping):
                raise WiringError(f"{what}: the arguments of schedule '{sname}' must be a mapping", where)
            check_schedule(sname, dict(kw or {}), where)
            return {sname: dict(kw or {})}
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise WiringError(f"{what} must be an integer, found {type(value).__name__} {value!r}", where)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WiringError(f"{what} must be a number{' or a schedule' if self.type == 'schedule' else ''}, "
                              f"found {type(value).__name__} {value!r}", where,
                              hint="YAML reads 1e-3 as a string: write 1.0e-3" if isinstance(value, str) else None)
        if not math.isfinite(value):
            raise WiringError(f"{what} must be finite, found {value!r}", where)
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            raise WiringError(f"{what} must be {'>' if self.lo_open else '>='} {self.lo}, found {value!r}", where)
        if self.hi is not None and value > self.hi:
            raise WiringError(f"{what} must be <= {self.hi}, found {value!r}", where)
        return int(value) if self.type == "int" else float(value)


MODULATION_OPTIONS = (
    Option("modulated_by", "ref", None, "dim-1 output gating the update per step (third factor), e.g. bg.dopamine"),
    Option("tau", "float", None, "eligibility-trace time constant in steps (unset: no trace)", lo=0.0, lo_open=True),
)


def schedule_value(value: Any, step) -> jax.Array:
    """A number, or a ``{schedule: kwargs}`` evaluated at training step ``step`` (traceable)."""
    if isinstance(value, Mapping):
        from ..costs import make_schedule

        (name, kw), = value.items()
        return jnp.asarray(make_schedule(name, dict(kw))(step), jnp.float32)
    return jnp.asarray(value, jnp.float32)


def _thaw(v: Any) -> Any:
    if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in v):
        return {k: _thaw(x) for k, x in v}
    return v


# --------------------------------------------------------------------------- context

class Replay(NamedTuple):
    """What a local replay of one area gives.

    Attributes:
        cost: scalar, the area's weighted cost terms (steps weighted by the modulator).
        per_step: ``[T, B]`` each step's and sample's share of ``cost`` (they sum to it).
        inputs: ``{port: [T, B, d]}`` the area's inputs (projections applied with the replayed params).
        outputs: ``{port: [T, B, d]}`` its outputs (noise added where asked).
    """

    cost: jax.Array
    per_step: jax.Array
    inputs: dict
    outputs: dict


@dataclass(frozen=True)
class RuleContext:
    """Everything a rule may use for one area and one training step.

    Attributes:
        area: the :class:`~brainsim.area.Area`.
        params: its learnable params ``{"area": {...}, "projections": {"e<i>": {"w": ...}}}``.
        grads: gradient of the summed cost w.r.t. ``params`` (rules needing ``"grad"``, else None).
        cost_fn: ``params -> scalar``: the brain's summed cost with this area's params replaced
            (global credit; None unless the area's credit is ``global``).
        replay: ``(params, noise=None) -> Replay``: this area alone on its recorded inputs;
            ``noise`` ``{port: [T, B, d]}`` is added to its outputs before its costs.
        outputs: ``{port: [T, B, d]}`` its outputs during the episode.
        weights: ``[T, B]`` per-step weights (1 without a modulator; see :func:`step_weights`).
        key: a PRNG key for this rule at this step.
        step: the training step (int32 scalar, for schedules).
        options: the rule's checked options.
        fixed: the area's non-learned leaves (``Fixed`` weights), for reading only.
    """

    area: Any
    params: Any
    grads: Any
    cost_fn: Optional[Callable]
    replay: Optional[Callable]
    outputs: Mapping[str, Any]
    weights: Any
    key: Any
    step: Any
    options: Mapping[str, Any]
    fixed: Any = None

    def pre(self) -> dict:
        """``{port: [T, B, d]}``: the area's presynaptic inputs per step (current projections)."""
        return self.replay(self.params).inputs

    def local_cost(self, params) -> jax.Array:
        """This area's own (weighted) cost over the episode with ``params``: one replay of this area."""
        return self.replay(params).cost


def step_weights(m: jax.Array, tau: Optional[float]) -> jax.Array:
    """Per-step weights ``w [T, B]`` of a modulator ``m [T, B]`` through an eligibility trace.

    ``w_s = sum_{t >= s} m_t exp(-(t - s) / tau)`` (``tau`` None: ``w = m``), so that
    ``sum_s w_s c_s = sum_t m_t e_t`` with ``e_t = sum_{s <= t} exp(-(t - s)/tau) c_s``.
    """
    if tau is None:
        return m
    decay = math.exp(-1.0 / tau)

    def back(carry, mt):
        carry = mt + decay * carry
        return carry, carry

    _, w = jax.lax.scan(back, jnp.zeros_like(m[0]), m, reverse=True)
    return w


def weighted_mean(weights: jax.Array, contrib: jax.Array) -> jax.Array:
    """``sum_{t,b} w_tb c_tb / (T B)`` for contributions ``c [T, B, ...]``."""
    T, B = weights.shape
    return jnp.tensordot(weights, contrib, axes=([0, 1], [0, 1])) / (T * B)


# --------------------------------------------------------------------------- tree paths

def get_path(tree: Mapping, path: tuple) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def set_path(tree: Mapping, path: tuple, value: Any) -> dict:
    """A copy of nested dict ``tree`` with the leaf at ``path`` replaced."""
    out = dict(tree)
    out[path[0]] = value if len(path) == 1 else set_path(tree[path[0]], path[1:], value)
    return out


def zeros_like(tree: Any) -> Any:
    return jax.tree.map(jnp.zeros_like, tree)


@dataclass(frozen=True)
class Synapse:
    """A learned matrix ``W [in_dim, out_dim]`` from input port ``pre`` to output port ``post``.

    ``path`` is its key path inside the area's params (``("layers", 0, "kernel")``).
    """

    path: tuple
    pre: str
    post: str


def synapses_of(area: Any, learned_paths=None, shapes: Optional[Mapping] = None) -> tuple:
    """The area's synapses: its declared ``synapses`` (``{name: (path, pre, post)}``) or, else,
    every learned 2-D leaf ``[d_in, d_out]`` whose dims match exactly one (input, output) port pair."""
    declared = getattr(area, "synapses", None)
    if callable(declared):
        declared = declared()
    if declared:
        return tuple(Synapse(tuple(p), pre, post) for p, pre, post in declared.values())
    if shapes is None:
        shapes = _learned_shapes(area)
    out = []
    for path, shape in sorted(shapes.items(), key=lambda kv: str(kv[0])):
        if len(shape) != 2:
            continue
        pairs = [(i, o) for i, di in area.in_dims.items() for o, do in area.out_dims.items()
                 if (di, do) == tuple(shape)]
        if len(pairs) == 1:
            out.append(Synapse(path, *pairs[0]))
    return tuple(out)


def _learned_shapes(area) -> dict:
    from ..area import split_learned

    abstract = jax.eval_shape(lambda: area.init(jax.random.key(0))[0])
    learned, _ = split_learned(abstract)
    pure = learned.to_pure_dict() if hasattr(learned, "to_pure_dict") else {}
    flat = jax.tree_util.tree_flatten_with_path(pure)[0]
    return {tuple(getattr(k, "key", getattr(k, "idx", k)) for k in p): tuple(v.shape) for p, v in flat}


def ff_layers_of(area: Any) -> Optional[tuple]:
    """``((kernel path, bias path), ...), activation`` of a layered feedforward area, or None.

    An area declares ``ff_layers() -> (paths, activation name)``; a ``readout`` (an MLP with tanh
    hidden layers, linear output) is recognised from its params.
    """
    own = getattr(area, "ff_layers", None)
    if callable(own):
        return own()
    if getattr(area, "type_name", "") == "readout":
        n = len(area.config.hidden) + 1
        return tuple((("layers", i, "kernel"), ("layers", i, "bias")) for i in range(n)), "tanh"
    return None


# --------------------------------------------------------------------------- the base class

class Rule:
    """Base class: subclasses set ``name``, ``doc``, ``formula``, ``reference``, ``needs``, ``options``
    and implement :meth:`update` (and :meth:`init` when they keep state)."""

    name: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    needs: ClassVar[frozenset] = frozenset()
    options: ClassVar[tuple] = ()  # of Option (MODULATION_OPTIONS are added unless modulatable is False)
    modulatable: ClassVar[bool] = True
    frozen: ClassVar[bool] = False  # True: the engine skips the area's update entirely (exact freeze)
    stateful: ClassVar[bool] = False  # True: init() returns state kept in the optimiser state

    def __init__(self, config: Mapping[str, Any] = None, where: Callable[[str], Any] = lambda k: None):
        raw = {k: _thaw(v) for k, v in dict(config or {}).items()}
        self.config = type(self).checked_options(raw, where)

    # ---- options -------------------------------------------------------------
    @classmethod
    def all_options(cls) -> tuple:
        return tuple(cls.options) + (MODULATION_OPTIONS if cls.modulatable else ())

    @classmethod
    def checked_options(cls, opts: Mapping[str, Any], where: Callable[[str], Any]) -> dict:
        """Options with defaults filled, each type- and range-checked (errors located by ``where(key)``)."""
        known = {o.name: o for o in cls.all_options()}
        for k in opts:
            if k not in known:
                raise WiringError(f"rule '{cls.name}' has no option '{k}'{did_you_mean(str(k), known)}", where(k),
                                  hint=("options: " + ", ".join(known)) if known else
                                  f"rule '{cls.name}' takes no options")
        out = {}
        for name, o in known.items():
            out[name] = o.check(opts[name], cls.name, where(name)) if name in opts else o.default
        cls.check_combination(out, where)
        return out

    @classmethod
    def check_combination(cls, opts: dict, where: Callable[[str], Any]) -> None:
        """Checks across options (a subclass hook)."""

    @classmethod
    def check_options(cls, opts: Mapping[str, Any], where: Callable[[str], Any]) -> None:
        """Raise a located :class:`WiringError` unless ``opts`` are valid options (wiring parse time)."""
        cls.checked_options({k: _thaw(v) for k, v in dict(opts).items()}, where)

    @classmethod
    def describe(cls) -> dict:
        """``{name, doc, needs, formula, reference, options: [(name, type, default, doc), ...]}``."""
        doc = (cls.__doc__ or "").strip().splitlines()
        return {"name": cls.name, "doc": doc[0] if doc else "", "needs": sorted(cls.needs),
                "formula": cls.formula, "reference": cls.reference,
                "options": [(o.name, o.type, o.default, o.doc) for o in cls.all_options()]}

    # ---- what the engine asks ------------------------------------------------
    @property
    def modulator(self) -> Optional[tuple]:
        ref = self.config.get("modulated_by")
        return tuple(ref.split(".")) if ref else None

    @property
    def needs_grad(self) -> bool:
        return "grad" in self.needs and self.modulator is None

    @property
    def needs_trace(self) -> bool:
        return bool(self.needs - {"grad"}) or self.modulator is not None

    @property
    def needs_replay(self) -> bool:
        return bool(self.needs & {"pre", "local_cost", "synapses", "energy", "layers", "lattice"}) or \
            self.modulator is not None

    @classmethod
    def missing_need(cls, area: Any) -> Optional[str]:
        """What the area cannot supply for this rule (None: everything), for the graph check."""
        if "synapses" in cls.needs and not synapses_of(area):
            return ("a synapse: a learned [in, out] matrix from one input port to one output port "
                    "(e.g. a readout without hidden layers)")
        if "lattice" in cls.needs and not (hasattr(area, "lattice") and "coords" in area.outputs):
            return "a map lattice (area.lattice and a 'coords' output, e.g. type som)"
        if "energy" in cls.needs and not (hasattr(area, "settle") and hasattr(area, "energy")):
            return "an energy function and a settling phase (an energy-based area, e.g. type energy)"
        if "layers" in cls.needs and ff_layers_of(area) is None:
            return "feedforward layers (area.ff_layers(), e.g. a readout)"
        return None

    # ---- the transform -------------------------------------------------------
    def init(self, params: Any) -> Any:
        """The rule's state for ``params`` (an empty tuple for stateless rules)."""
        return ()

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        """``(pseudo-gradient shaped like ctx.params, new state)``."""
        raise NotImplementedError


# --------------------------------------------------------------------------- registry

RULES: dict[str, type[Rule]] = {}


def register_rule(name: Optional[str] = None):
    """Class decorator: make a :class:`Rule` subclass available to wirings as ``rule: name``."""

    def deco(cls):
        key = name or cls.name
        if not (isinstance(cls, type) and issubclass(cls, Rule)):
            raise WiringError(f"register_rule('{key}') decorates {cls!r}, which is not a Rule subclass")
        old = RULES.get(key)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise WiringError(f"learning rule '{key}' is registered twice ({old.__module__} and {cls.__module__})",
                              hint="give one of them another name")
        cls.name = key
        RULES[key] = cls
        return cls

    return deco


def make_rule(name: str, options: Any = ()) -> Rule:
    """Instantiate a rule from its wiring ``(name, options)`` (frozen pairs or a dict)."""
    if name not in RULES:
        raise WiringError(f"unknown learning rule '{name}'{did_you_mean(name, RULES)}",
                          hint="rules: " + ", ".join(RULES))
    return RULES[name](dict(options))


def rule_catalogue() -> list[dict]:
    """Every registered rule's :meth:`Rule.describe`, sorted by name (for ``brainsim list rules``)."""
    return [RULES[n].describe() for n in sorted(RULES)]

