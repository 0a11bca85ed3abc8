"""The built wheel installs everything: build it from the source tree, install it
into a fresh virtual environment, import every module of the source tree there
and run ``stbass-trace --help``.

An editable install hides a package missing from the wheel (``stbass.temporal``
once was): this test only trusts what the wheel put into the new environment.
The new environment gets stbass's dependencies from this one's site-packages
(added to its path), so nothing but the build (setuptools, from PyPI or pip's
cache) needs the network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from: the packaging files and the two package trees.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "stbass", "tracing")


def source_modules() -> list[str]:
    """Every module of the source tree, by the name it is imported with."""
    names = []
    for package, root in (("stbass", ROOT / "stbass"), ("stbass_tracing", ROOT / "tracing")):
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join([package, *parts]))
    return names


def test_source_modules_cover_every_package() -> None:
    names = set(source_modules())
    for package in ("stbass", "stbass._core", "stbass._compose", "stbass.mcp",
                    "stbass.testing", "stbass.temporal", "stbass_tracing"):  # fmt: skip
        assert package in names


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """``(python of a fresh venv with only the wheel installed, the wheel)``."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(src)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("stbass-*.whl")

    venv = tmp / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],  # fmt: skip
        check=True,
        timeout=300,
    )
    # The dependencies come from this environment (a plain path entry: its .pth
    # files, among them the editable install of stbass, are not processed).
    site = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    yield python, wheel


def test_wheel_holds_only_stbass_and_stbass_tracing(fresh_venv: tuple[Path, Path]) -> None:
    _, wheel = fresh_venv
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"stbass", "stbass_tracing"}
    assert "stbass/py.typed" in names and "stbass_tracing/assets/viewer.js" in names


def test_every_source_module_imports_from_the_installed_wheel(
    fresh_venv: tuple[Path, Path], tmp_path: Path
) -> None:
    python, _ = fresh_venv
    modules = source_modules()
    # __main__ modules run their command when imported: check they are installed.
    script = "\n".join(
        [
            "import importlib, importlib.util, pathlib, sys",
            f"venv = pathlib.Path({str(python.parent.parent)!r}).resolve()",
            f"for name in {modules!r}:",
            "    if name.endswith('.__main__'):",
            "        spec = importlib.util.find_spec(name)",
            "        assert spec is not None and spec.origin, name",
            "        origin = spec.origin",
            "    else:",
            "        origin = importlib.import_module(name).__file__",
            "    assert venv in pathlib.Path(origin).resolve().parents, (name, origin)",
            "try:",
            "    import tracing",
            "except ImportError:",
            "    pass",
            "else:",
            "    raise AssertionError(f'a top-level tracing package is installed: {tracing}')",
            "print(len(sys.modules))",
        ]
    )
    # -I: neither the working directory nor PYTHONPATH may supply the source tree.
    done = subprocess.run(
        [str(python), "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def test_stbass_trace_command_is_installed(fresh_venv: tuple[Path, Path], tmp_path: Path) -> None:
    python, _ = fresh_venv
    command = python.parent / "stbass-trace"
    done = subprocess.run(
        [str(command), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower() and "view" in done.stdout
