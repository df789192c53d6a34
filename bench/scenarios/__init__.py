"""One module per scenario: `setup()` prepares its data through the ORM and returns a RequestSpec.

Modules whose name starts with an underscore are helpers, not scenarios.
"""

import importlib
import pkgutil
from pathlib import Path

CEILING = "ceiling"


def names() -> list[str]:
    """Every scenario shipped in this package, the ceiling first."""
    found = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    return [CEILING, *(n for n in found if n != CEILING)]


def load(name: str):
    if name not in names():
        raise LookupError(f"unknown scenario {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")
