"""brainsim: modular brain architectures, wired in YAML, compiled by JAX.

    import jax, brainsim
    brain = brainsim.load("wiring/pbwm.yaml")
    params, state = brain.init(jax.random.key(0), batch=8)
"""
from .errors import AreaError, BrainsimError, NonFiniteError, ScenarioError, ShapeError, WiringError
from .area import Area, Fixed, Port, StepContext, area_types, get_area_type, register_area
from .brain import Brain, from_yaml, load
from .scenario import Result, RunContext, Scenario, run_scenario

__all__ = ["Area", "AreaError", "Brain", "BrainsimError", "Fixed", "NonFiniteError", "Port", "Result", "RunContext",
           "Scenario", "ScenarioError", "ShapeError", "StepContext", "WiringError", "area_types", "from_yaml",
           "get_area_type", "load", "register_area", "run_scenario"]
