"""``make verifytypes``: pyright's ``--verifytypes`` report for tornsess,
which must say 100 %.

Tornado ships a ``tornado/__init__.pyi`` beside its ``py.typed``. With it,
pyright reads the package through that stub and finds none of Tornado's
submodules there, so every class of ``tornado.web`` is "unknown" to it, and
each tornsess class built on one (``SessionMixin``, the HTTPError
subclasses) is reported as "partially unknown", however it is annotated.
This script gives pyright a view of the installed Tornado without that one
file (links to the rest, in a temporary folder first on its path), so that
the report speaks of tornsess's own annotations only.

The editable install of tornsess is an import hook that pyright cannot
follow, so the checkout itself is put on its path too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tornado

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    installed = Path(tornado.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        view = Path(tmp) / "tornado"
        view.mkdir()
        for entry in installed.iterdir():
            if entry.name != "__init__.pyi":
                (view / entry.name).symlink_to(entry)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([tmp, str(ROOT)]))
        pyright = Path(sys.executable).parent / "pyright"
        command = [str(pyright), "--pythonpath", sys.executable, "--outputjson"]
        command += ["--verifytypes", "tornsess", "--ignoreexternal"]
        run = subprocess.run(command, env=env, cwd=ROOT, check=False, capture_output=True)
    try:
        report = json.loads(run.stdout)
        score = report["typeCompleteness"]["completenessScore"]
        symbols = report["typeCompleteness"]["symbols"]
    except (ValueError, KeyError, TypeError):
        sys.stdout.write(run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace"))
        return run.returncode or 1
    for symbol in symbols:
        for diagnostic in symbol.get("diagnostics", []):
            if diagnostic.get("severity") == "error":
                print(f"{symbol['name']}: {diagnostic['message']}")
    print(f"pyright --verifytypes tornsess: {100 * score:.1f} % of the public API typed")
    return 0 if score == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
