#!/usr/bin/env python3
"""Run the benchmark: `python3 bench/run.py [scenario ...]` (see bench/README.md, or --help)."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    try:
        import django  # noqa: F401
    except ImportError as exc:
        venv_python = REPO / ".venv" / "bin" / "python"
        if venv_python.exists() and Path(sys.executable) != venv_python:
            os.execv(str(venv_python), [str(venv_python), *sys.argv])
        raise SystemExit(
            "Django is not importable: create the environment (see README) or use .venv/bin/python"
        ) from exc
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    from bench.harness import main

    raise SystemExit(main())
