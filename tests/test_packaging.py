"""The built distributions: what the wheel and the sdist hold, and the wheel
installed into a fresh virtualenv outside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import tornsess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The sdist and the wheel, built as a release would be: ``python -m
    build`` makes the sdist, then the wheel from the unpacked sdist (so the
    sdist is complete enough to build)."""
    out = tmp_path_factory.mktemp("dist")
    # As in a new user's shell, where byte-compiling is on (setuptools warns
    # when PYTHONDONTWRITEBYTECODE turns it off).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    (out / "build.log").write_text(built.stdout + built.stderr)
    (wheel,) = out.glob("tornsess-*.whl")
    (sdist,) = out.glob("tornsess-*.tar.gz")
    yield {"wheel": wheel, "sdist": sdist, "log": out / "build.log"}


def test_the_build_prints_no_warning(dists: dict[str, Path]) -> None:
    log = dists["log"].read_text()
    assert "Successfully built" in log
    warnings = [line for line in log.splitlines() if "warn" in line.lower()]
    assert warnings == []


def test_wheel_top_level_names(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = wheel.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"tornsess", f"tornsess-{tornsess.__version__}.dist-info"}
    assert "encoders" not in top
    for required in (
        "tornsess/__init__.py",
        "tornsess/py.typed",
        "tornsess/encoders/__init__.py",
        "tornsess/encoders/signed.py",
        "tornsess/encoders/py.typed",
        "tornsess/sessiondb/redis.py",
        f"tornsess-{tornsess.__version__}.dist-info/licenses/LICENSE",
    ):
        assert required in names, required
    assert not any(name.startswith("tornsess/tests") or "conftest" in name for name in names)


def test_wheel_metadata(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        metadata = wheel.read(f"tornsess-{tornsess.__version__}.dist-info/METADATA").decode()
    assert f"Version: {tornsess.__version__}" in metadata
    assert "License-Expression: MIT" in metadata
    for minor in (10, 11, 12, 13):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}" in metadata
    assert "Project-URL: Source," in metadata
    assert "Requires-Python: >=3.10" in metadata


def test_sdist_ships_license_and_no_partial_test_suite(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    for required in (
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "encoders/signed.py",
    ):
        assert required in names, required
    # The tests need the whole checkout; the sdist leaves them all out.
    assert not [name for name in names if name.startswith("tests/")]


def test_one_source_for_the_version() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "tornsess.__version__" }' in pyproject
    assert re.findall(r"^version = .*$", pyproject, re.M) == [
        'version = { attr = "tornsess.__version__" }'
    ]
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert "tornsess.__version__" in conf
    assert tornsess.__version__ not in conf


CHECK = """
import importlib.metadata, importlib.resources, sys
import tornsess
from tornsess.encoders import PlainEncoder, SecretBoxEncoder, SignedEncoder
assert tornsess.__file__.startswith(sys.prefix), tornsess.__file__
assert importlib.resources.files("tornsess").joinpath("py.typed").is_file()
assert importlib.resources.files("tornsess.encoders").joinpath("py.typed").is_file()
assert tornsess.__version__ == importlib.metadata.version("tornsess"), tornsess.__version__
try:
    import encoders
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("a top-level encoders package was installed: " + encoders.__file__)
print("ok")
"""

SIGNED_APP = """
import asyncio
import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornsess import SessionMixin

class Count(SessionMixin, tornado.web.RequestHandler):
    def get(self):
        self.finish(str(self.session.increment("n")))

async def main():
    app = tornado.web.Application(
        [(r"/", Count)], cookie_secret="x" * 40, sessions={"encoding": "signed"}
    )
    server = app.listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/")
    print(response.code, response.body.decode())
    server.stop()

asyncio.run(main())
"""


def test_wheel_installs_into_a_fresh_virtualenv(dists: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(dists["wheel"])],
        check=True,
        timeout=600,
    )

    def run(*args: str) -> str:
        result = subprocess.run(
            [python, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run("-c", CHECK) == "ok"
    key = run("-m", "tornsess", "keygen")
    assert len(key) == 43
    assert run("-c", SIGNED_APP) == "200 1"

    # Another distribution that owns a top-level "encoders" package (as the
    # unrelated PyPI package "encoders" does) neither shadows nor, once
    # removed, deletes ours.
    site = run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    foreign = Path(site) / "encoders"
    foreign.mkdir()
    (foreign / "__init__.py").write_text("raise ImportError('the other encoders package')\n")
    assert run("-c", SIGNED_APP) == "200 1"
    for path in foreign.iterdir():
        path.unlink()
    foreign.rmdir()
    assert run("-c", SIGNED_APP) == "200 1"
    assert run("-c", "import tornsess.encoders.signed as m; print(m.__name__)") == (
        "tornsess.encoders.signed"
    )
