"""Make the project's virtualenv ready for one purpose, safely in parallel.

``python3 tools/venv.py VENV demo`` installs the package (editable) with
the extras of every store the demo offers;
``python3 tools/venv.py VENV test`` installs it with the test extras.
A virtualenv made by another Python version than the one running this
script is made anew, so ``make test PYTHON=python3.13`` tests 3.13.

Several make targets may run this at once (``make demo & make test``): an
exclusive lock on ``VENV.lock`` makes the second wait while the first
creates the virtualenv or installs into it, instead of both building the same
folder. A stamp file per purpose, newer than ``pyproject.toml`` and
``setup.py``, says that purpose's install is done.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = (ROOT / "pyproject.toml", ROOT / "setup.py", Path(__file__).resolve())
# What each purpose installs, and which stamps already cover it.
PURPOSES = {
    "demo": (".[redis,postgresql]", ("demo", "test")),
    "test": (".[test]", ("test",)),
}


# pip's errors still show; its warnings here are setuptools' note that an
# editable install maps folders (encoders/ -> tornsess.encoders), and a
# machine's own pip configuration, nothing a newcomer can act on.
PIP_INSTALL = ("-m", "pip", "install", "-qq")


def fresh(stamp: Path) -> bool:
    """Whether *stamp* exists and is newer than every install input."""
    if not stamp.exists():
        return False
    made = stamp.stat().st_mtime
    return all(made >= path.stat().st_mtime for path in INPUTS)


def same_python(venv: Path) -> bool:
    """Whether *venv* was made by a Python of this one's major.minor version
    (``make test PYTHON=python3.13`` must not reuse a 3.11 virtualenv)."""
    try:
        config = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return False
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip().split(".")[:2] == [str(n) for n in sys.version_info[:2]]
    return False


def run(*command: str) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in PURPOSES:
        print(f"usage: {sys.argv[0]} VENV {{{','.join(PURPOSES)}}}", file=sys.stderr)
        return 2
    venv = Path(argv[0])
    if not venv.is_absolute():
        venv = ROOT / venv
    requirement, covering = PURPOSES[argv[1]]
    python = venv / "bin" / "python"
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        matches = same_python(venv)
        if matches and any(fresh(venv / f".installed-{purpose}") for purpose in covering):
            return 0
        if not matches or not python.exists():
            # Missing, or made by another Python: build it anew (--clear
            # also drops the stamps of what was installed into it).
            run(sys.executable, "-m", "venv", "--clear", str(venv))
            run(str(python), *PIP_INSTALL, "--upgrade", "pip")
        run(str(python), *PIP_INSTALL, "-e", requirement)
        (venv / f".installed-{argv[1]}").touch()
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main(sys.argv[1:]))
