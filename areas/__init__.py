"""The built-in area catalogue: importing this package registers every area type.

One file per area; each opens with a docstring giving its biological role, its
ML analogue, its ports, its state, its cost terms and its references.
"""

import importlib
import pkgutil

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if not _mod.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod}")
