"""hopid installs as a wheel: every package and the recipes ship, and training runs from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def listed_packages() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_source_package_is_listed_for_the_wheel():
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for top in ("hopid", "hopid_cli")
        for path in (REPO / top).rglob("*.py")
    }
    assert found | {"hopid.recipes"} == listed_packages()


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_trains_the_shipped_demo_recipe(tmp_path):
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run(build, check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("hopid-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies come from this environment (no network needed); hopid itself only from the wheel
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "HOPID_CACHE": str(tmp_path / "cache")}
    where = subprocess.run(
        [str(python), "-c", "import hopid; print(hopid.__file__)"],
        cwd=elsewhere,
        env=env,
        text=True,
        capture_output=True,
    )
    assert where.stdout.startswith(site), where  # the wheel's copy, not this checkout
    command = [str(venv / "bin" / "hopid"), "train", "demo-tiny", "--set", "train.epochs=1", "--out", "run"]
    result = subprocess.run(command, cwd=elsewhere, env=env, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (elsewhere / "run" / "model.safetensors").is_file()
