#!/usr/bin/env python3
"""One entry point for newcomers and CI. Needs only Python 3.11+.

    python3 run.py demo   # set up, load demo data, run the platform at http://127.0.0.1:8000/admin/
    python3 run.py test   # set up and run the whole test suite (extra arguments go to pytest)

Both create `.venv` and install `requirements.txt` into it when needed.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".requirements.sha256"


def sh(*args, **kwargs) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, **kwargs)


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        print("Installing requirements …", flush=True)
        if sh(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"):
            sys.exit("pip install failed")
        STAMP.write_text(digest)


def manage(*args) -> int:
    return sh(PY, "manage.py", *args)


def demo(args: list[str]) -> int:
    os.environ.setdefault("DEBUG", "1")
    addr = args[0] if args else "127.0.0.1:8000"
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{addr}")
    if manage("migrate", "--noinput", "-v", "0") or manage("seed_demo"):
        return 1
    print(f"\nThe platform runs at http://{addr}/  (admin: http://{addr}/admin/, API docs: http://{addr}/api/docs/)")
    print(f"Partners log in at http://{addr}/portal/ (partner / partner).")
    print("Stop it with Ctrl+C.\n", flush=True)
    return manage("runserver", addr, "--noreload")


def test(args: list[str]) -> int:
    code = sh(PY, "-m", "pytest", *args)
    if code == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
        return 1
    return code


def main() -> int:
    command, *rest = sys.argv[1:] or ["help"]
    if command not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    setup()
    if command == "setup":
        return 0
    return demo(rest) if command == "demo" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
