"""Shared fixtures: real files on disk, the real tiny model, the real-world photos when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]


def realworld_dir() -> Path | None:
    candidates = [os.environ.get("HOPID_REALWORLD"), REPO.parent / "shared" / "realworld"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def realworld() -> Path:
    found = realworld_dir()
    if found is None:
        pytest.skip("../shared/realworld is absent (set HOPID_REALWORLD to its path)")
    return found


def render_words(
    path: Path, words: list[str], size: tuple[int, int] = (480, 200), background: tuple[int, int, int] = (255, 255, 255)
) -> Path:
    """A picture with ``words`` written large and dark, one per line, saved to ``path``."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    for line, word in enumerate(words):
        draw.text((20, 15 + line * 60), word, fill=(10, 10, 10), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def cold_query(index_dir: Path, text: str) -> tuple[list[dict], list[str]]:
    """``hopid query TEXT --index DIR --json`` in a fresh Python: its hits, and which of torch,
    spaCy, open_clip, polars and pandas it imported."""
    return _cold(index_dir, [text])


def cold_image_query(index_dir: Path, image: Path) -> tuple[list[dict], list[str]]:
    """``hopid query --image IMAGE --index DIR --json`` in a fresh Python, as :func:`cold_query`."""
    return _cold(index_dir, ["--image", str(image)])


def _cold(index_dir: Path, query: list[str]) -> tuple[list[dict], list[str]]:
    import json
    import subprocess
    import sys

    probe = (
        "import json, sys; from hopid_cli.app import app; "
        "app(['query', *sys.argv[2:], '--index', sys.argv[1], '--json'], standalone_mode=False); "
        "heavy = {'torch', 'spacy', 'open_clip', 'polars', 'pandas'}; "
        "print(json.dumps(sorted(heavy & set(sys.modules))), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(index_dir), *query], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), json.loads(done.stderr.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def tiny_encoder():
    from hopid.models.factory import load_encoder

    return load_encoder("tiny", device="cpu")
