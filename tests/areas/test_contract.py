"""The area contract, run over EVERY registered area (the user's too, once registered) and every one of
its documented example configs (``Area.examples``), as diffrax runs every solver through one file."""

import pytest

from brainsim.area import area_types
from brainsim.testing import check_area, example_configs

CASES = [(name, i, cfg) for name in sorted(area_types()) for i, cfg in enumerate(example_configs(name))]


@pytest.mark.parametrize("area_type,i,config", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_every_registered_area_keeps_the_contract(area_type, i, config):
    config = dict(config)
    area = check_area(area_type, dims=config.pop("dims", None), **config)
    assert area.type_name == area_type


def test_contract_catches_a_broken_area():
    """The kit must fail an area whose jitted step retraces / changes its state structure."""
    import dataclasses

    import jax.numpy as jnp

    from brainsim.area import Area, Port

    class Leaky(Area):  # not registered: changes its state dtype on every step
        type_name = "leaky_broken"

        @dataclasses.dataclass(frozen=True)
        class Config:
            tau: float = 2.0

        inputs = {"input": Port("auto")}
        outputs = {"output": Port("input")}

        def initial_state(self):
            return {"x": jnp.zeros((self.in_dims["input"],), jnp.float32)}

        def forward(self, module, state, inputs, key):
            x = state["x"] + inputs["input"]
            return {"x": x.astype(jnp.float16)}, {"output": x}

    with pytest.raises(AssertionError, match="state shapes/dtypes"):
        check_area(Leaky)


def _tiny_area(forward, cost=None, state=None, inputs=None, params=True):
    """An unregistered one-parameter area for the contract's own tests."""
    import dataclasses

    import jax.numpy as jnp
    from flax import nnx

    from brainsim.area import Area, Port

    class _W(nnx.Module):
        def __init__(self):
            self.w = nnx.Param(jnp.ones((3,)))

    class Tiny(Area):
        type_name = "tiny"

        @dataclasses.dataclass(frozen=True)
        class Config:
            pass

        cost_terms = {"c": "a test term"} if cost else {}

    Tiny.inputs = inputs or {"input": Port(3)}
    Tiny.outputs = {"output": Port(3)}
    Tiny.build = (lambda self, rngs: _W()) if params else (lambda self, rngs: None)
    Tiny.initial_state = lambda self: dict(state or {"t": jnp.zeros(())})
    Tiny.forward = forward
    if cost:
        Tiny.cost = lambda self, term, module, ctx: cost(module, ctx)
    return Tiny


def test_contract_finds_a_nan_that_appears_only_after_the_first_step():
    import jax.numpy as jnp

    def forward(self, module, state, inputs, key):
        t = state["t"] + 1.0
        y = module.w[...] * inputs["input"] + jnp.where(t > 1.5, jnp.nan, 0.0)  # fine at step 0, NaN at step 1
        return {"t": t}, {"output": y}

    with pytest.raises(AssertionError, match="non-finite output at step 1"):
        check_area(_tiny_area(forward))


def test_contract_checks_optional_inputs_unconnected_too():
    import jax.numpy as jnp

    from brainsim.area import Port

    def forward(self, module, state, inputs, key):
        return state, {"output": module.w[...] * inputs["input"] / inputs["gain"]}  # default 0: division by zero

    area = _tiny_area(forward, inputs={"input": Port(3), "gain": Port(3, required=False, default=0.0)})
    with pytest.raises(AssertionError, match="unconnected"):
        check_area(area)


def test_contract_flags_a_cost_with_an_identically_zero_gradient():
    import jax.numpy as jnp

    def forward(self, module, state, inputs, key):
        return state, {"output": module.w[...] * inputs["input"]}

    area = _tiny_area(forward, cost=lambda module, ctx: jnp.mean(ctx.inputs["input"] ** 2))  # ignores the params
    with pytest.raises(AssertionError, match="identically zero gradient"):
        check_area(area)
    area.param_free_costs = ("c",)
    check_area(area)  # declared: allowed


def test_contract_warns_about_a_state_key_that_is_never_used():
    import jax.numpy as jnp

    from brainsim.testing import UnusedStateWarning

    def forward(self, module, state, inputs, key):
        return {**state, "t": state["t"] + 1.0}, {"output": module.w[...] * inputs["input"]}

    area = _tiny_area(forward, state={"t": jnp.zeros(()), "dead": jnp.zeros((2,))})
    with pytest.warns(UnusedStateWarning, match="state key 'dead' is never used"):
        check_area(area)
