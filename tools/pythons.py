"""Print the oldest and the newest supported CPython found on this machine,
one interpreter path a line (one line if they are the same).

It looks under ``$(pyenv root)/versions`` first, then for ``python3.X`` on
the PATH. ``.ci/run`` runs the test suite on both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SUPPORTED = [(3, 10), (3, 11), (3, 12), (3, 13)]


def pyenv_root() -> Path | None:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        default = Path.home() / ".pyenv"
        return default if default.is_dir() else None
    result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def find(version: tuple[int, int]) -> str | None:
    """An interpreter of *version*: pyenv's newest patch release, else the PATH."""
    root = pyenv_root()
    if root is not None:
        prefix = f"{version[0]}.{version[1]}."
        candidates = sorted(
            (p for p in (root / "versions").glob(f"{prefix}*") if p.name[len(prefix) :].isdigit()),
            key=lambda p: int(p.name[len(prefix) :]),
        )
        for candidate in reversed(candidates):
            python = candidate / "bin" / "python"
            if python.exists():
                return str(python)
    return shutil.which(f"python{version[0]}.{version[1]}")


def main() -> None:
    found = [python for python in map(find, SUPPORTED) if python is not None]
    for python in dict.fromkeys([found[0], found[-1]] if found else []):
        print(python)


if __name__ == "__main__":
    main()
