"""The canonical wirings (``*.yaml``), shipped in the package as ``brainsim.wirings``."""
