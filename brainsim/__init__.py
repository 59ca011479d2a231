"""brainsim: modular brain architectures, wired in YAML, compiled by JAX."""
from .errors import AreaError, BrainsimError, ScenarioError, ShapeError, WiringError
from .area import Area, Fixed, Port, StepContext, area_types, get_area_type, register_area
