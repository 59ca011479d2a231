"""The area contract, run over EVERY registered area (the user's too, once registered)."""

import pytest

from brainsim.area import area_types
from brainsim.testing import check_area


@pytest.mark.parametrize("area_type", sorted(area_types()))
def test_every_registered_area_keeps_the_contract(area_type):
    area = check_area(area_type)
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
