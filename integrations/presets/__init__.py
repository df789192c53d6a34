"""Shipped mappings for known operator systems. A source with `preset` starts from one of these;
its own `mapping` (edited in the admin) is what is actually used, so a preset is a starting point,
never a hidden override."""

import copy
import json
from functools import cache
from pathlib import Path

PRESET_DIR = Path(__file__).resolve().parent
# The operators' sample payloads each preset is proven against (tests) and the demo feeds.
SAMPLES_DIR = PRESET_DIR / "samples"
DEFAULT_PRESET = "default"


@cache
def _load() -> dict[str, dict]:
    presets = {}
    for path in sorted(PRESET_DIR.glob("*.json")):
        presets[path.stem] = json.loads(path.read_text())
    return presets


def preset_names() -> list[str]:
    return list(_load())


def preset_choices() -> list[tuple[str, str]]:
    return [(name, body.get("_title", name)) for name, body in _load().items()]


def preset_mapping(name: str) -> dict:
    """A fresh copy of the preset's mapping (without its `_title`/`_notes`); KeyError if unknown."""
    body = copy.deepcopy(_load()[name])
    return {key: value for key, value in body.items() if not key.startswith("_")}
