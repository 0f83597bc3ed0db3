"""OCR engines, line splitting, the parallel runner and real-world recall."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from hopid.entities.text import fold
from hopid.errors import HopidError
from hopid.ocr.base import OcrWord, dedupe_words, reading_order, split_line
from hopid.ocr.registry import (
    DEFAULT_ENGINE,
    ENGINES,
    QUALITIES,
    cache_name,
    create_engine,
    engine_problem,
    engine_spec,
    split_spec,
)

WORDS = (("HELLO", (40, 60)), ("World", (380, 60)))
SIZE = (640, 200)


def _realworld() -> Path | None:
    configured = os.environ.get("HOPID_REALWORLD")
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "realworld"
    return root if (root / "scene_words.csv").is_file() else None


def render(words=WORDS, size=SIZE) -> tuple[Image.Image, dict[str, tuple[float, float, float, float]]]:
    """Black words on white; returns the image and each word's drawn box, normalised."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    drawn = {}
    for text, origin in words:
        draw.text(origin, text, font=font, fill="black")
        left, top, right, bottom = draw.textbbox(origin, text, font=font)
        drawn[text] = (left / size[0], top / size[1], right / size[0], bottom / size[1])
    return image, drawn


def assert_found(words: list[OcrWord], drawn: dict[str, tuple[float, float, float, float]]) -> None:
    """Each drawn word is read, in order, with a normalised box around where it was drawn."""
    keys = [fold(word.text) for word in words]
    assert [fold(text) for text in drawn] == [key for key in keys if key in {fold(t) for t in drawn}], keys
    for text, (left, top, right, bottom) in drawn.items():
        word = words[keys.index(fold(text))]
        assert len(word.box) == 8 and all(0.0 <= v <= 1.0 for v in word.box)
        assert 0.0 <= word.confidence <= 1.0
        box_left, box_top, box_right, box_bottom = word.bounds
        centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
        assert box_left <= centre_x <= box_right and box_top <= centre_y <= box_bottom, (text, word.box)
        slack = 0.05
        assert box_left >= left - slack and box_right <= right + slack, (text, word.box)
        assert box_top >= top - 4 * slack and box_bottom <= bottom + 4 * slack, (text, word.box)


@pytest.fixture(scope="module")
def engines():
    built: dict[str, object] = {}

    def get(name: str):
        problem = engine_problem(name)
        if problem:
            pytest.skip(problem)
        if name not in built:
            built[name] = create_engine(name)
        return built[name]

    return get


ENGINE_PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n == "easyocr" else n for n in ENGINES]


def test_split_line_interpolates_word_quads() -> None:
    # A slanted line 0..200 px wide; "ab" is chars 0-2, "cdef" chars 4-8 of 8.
    quad = [(0, 10), (200, 30), (200, 60), (0, 40)]
    words = split_line("ab  cdef", quad, 0.9, width=400, height=100)
    assert [w.text for w in words] == ["ab", "cdef"]
    first, second = words
    assert first.box == pytest.approx((0.0, 0.1, 0.125, 0.15, 0.125, 0.45, 0.0, 0.4))
    assert second.box == pytest.approx((0.25, 0.2, 0.5, 0.3, 0.5, 0.6, 0.25, 0.5))
    assert first.bounds[2] <= second.bounds[0]
    for word in words:
        assert word.confidence == 0.9
        assert all(0.0 <= v <= 1.0 for v in word.box)
        left, top, right, bottom = word.bounds
        assert left >= 0.0 and right <= 0.5 and top >= 0.1 and bottom <= 0.6


def test_split_line_drops_empty_words_and_clips() -> None:
    assert split_line("   ", [(0, 0), (10, 0), (10, 5), (0, 5)], 1.0, 10, 5) == []
    (word,) = split_line(" x ", [(-5, -5), (15, -5), (15, 8), (-5, 8)], 1.0, 10, 5)
    assert word.text == "x" and all(0.0 <= v <= 1.0 for v in word.box)


def test_reading_order_rows_then_columns() -> None:
    def at(text: str, left: float, top: float) -> OcrWord:
        right, bottom = left + 0.1, top + 0.05
        return OcrWord(text, 1.0, (left, top, right, top, right, bottom, left, bottom))

    shuffled = [at("d", 0.5, 0.5), at("b", 0.5, 0.11), at("a", 0.1, 0.1), at("c", 0.1, 0.49)]
    assert [w.text for w in reading_order(shuffled)] == ["a", "b", "c", "d"]


def test_unknown_engine_is_a_hopid_error() -> None:
    assert "rapidocr" in (engine_problem("nope") or "")
    with pytest.raises(HopidError, match="unknown OCR engine"):
        create_engine("nope")


def test_engine_specs_name_the_quality_and_the_cache_follows_the_revision() -> None:
    from hopid.ocr.rapid import PASSES

    assert set(PASSES) == set(QUALITIES)
    assert engine_spec("rapidocr") == engine_spec("rapidocr", "fast") == "rapidocr"
    assert engine_spec("rapidocr", "best") == "rapidocr:best" and split_spec("rapidocr:best") == ("rapidocr", "best")
    assert cache_name("rapidocr") != cache_name("rapidocr:best") != cache_name("tesseract")
    assert "offered by rapidocr only" in (engine_problem("tesseract:best") or "")
    assert "choose one of fast, best" in (engine_problem("rapidocr:slowest") or "")


def test_dedupe_keeps_the_confident_reading_and_every_different_one() -> None:
    def at(text: str, confidence: float, left: float) -> OcrWord:
        return OcrWord(text, confidence, (left, 0.1, left + 0.2, 0.1, left + 0.2, 0.2, left, 0.2))

    words = [at("EXIT", 0.7, 0.10), at("Exit", 0.9, 0.11), at("EXTT", 0.8, 0.10), at("EXIT", 0.6, 0.6)]
    kept = dedupe_words(words)
    assert sorted((w.text, w.confidence) for w in kept) == [("EXIT", 0.6), ("EXTT", 0.8), ("Exit", 0.9)]


def test_a_box_cut_twice_is_read_once() -> None:
    import numpy as np

    from hopid.ocr.rapid import SAME_BOX_IOU, _overlap

    square = np.array([[[0, 0], [10, 0], [10, 10], [0, 10]]], np.float32)
    others = np.array([[[0, 0], [10, 0], [10, 10.5], [0, 10.5]], [[5, 0], [15, 0], [15, 10], [5, 10]]], np.float32)
    overlap = _overlap(square, others)[0]
    assert overlap[0] >= SAME_BOX_IOU > overlap[1] == pytest.approx(1 / 3)
    assert _overlap(square, np.zeros((0, 4, 2), np.float32)).max(axis=1, initial=0.0).tolist() == [0.0]


def test_best_quality_reads_at_least_what_fast_reads(engines) -> None:
    image, drawn = render()
    fast, best = engines(DEFAULT_ENGINE), engines(engine_spec(DEFAULT_ENGINE, "best"))
    assert_found(best.read(image), drawn)
    assert {fold(w.text) for w in fast.read(image)} <= {fold(w.text) for w in best.read(image)}


def test_registry_import_is_light() -> None:
    heavy = ("onnxruntime", "torch", "easyocr", "rapidocr", "rapidocr_onnxruntime", "cv2")
    code = f"import sys, hopid.ocr.registry, hopid.ocr.pool; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ENGINE_PARAMS)
def test_engine_reads_rendered_words(engines, name: str) -> None:
    image, drawn = render()
    assert_found(engines(name).read(image), drawn)


@pytest.mark.parametrize("name", ENGINE_PARAMS)
def test_engine_reads_cropped_word(engines, name: str) -> None:
    image, _ = render((("Harbour", (12, 8)),), size=(200, 72))
    assert fold(engines(name).read_word(image)) == "harbour"


def _save_exif_rotated(image: Image.Image, path: Path) -> None:
    """Store ``image`` turned 90 degrees anticlockwise with Orientation 6, so viewers show it upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes())


def test_exif_rotated_image_gives_upright_boxes(tmp_path: Path, engines) -> None:
    from hopid.ocr.pool import ocr_paths

    engines(DEFAULT_ENGINE)  # skips when unavailable
    image, drawn = render()
    _save_exif_rotated(image, tmp_path / "rotated.jpg")
    (result,) = list(ocr_paths([tmp_path / "rotated.jpg"], DEFAULT_ENGINE, workers=1))
    assert result.error is None and (result.width, result.height) == SIZE
    assert_found(result.words, drawn)


def test_ocr_paths_pool_survives_bad_files(tmp_path: Path) -> None:
    from hopid.ocr.pool import ocr_paths

    if engine_problem(DEFAULT_ENGINE):
        pytest.skip(engine_problem(DEFAULT_ENGINE))
    image, drawn = render()
    good = [tmp_path / "a.png", tmp_path / "b.jpg"]
    image.save(good[0])
    image.save(good[1], quality=95)
    (tmp_path / "empty.jpg").write_bytes(b"")
    data = good[1].read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    paths = [good[0], tmp_path / "empty.jpg", good[1], tmp_path / "truncated.jpg", tmp_path / "missing.png"]
    results = {r.index: r for r in ocr_paths(paths, DEFAULT_ENGINE, workers=2)}
    assert sorted(results) == list(range(len(paths)))
    for index in (0, 2):
        assert results[index].error is None and (results[index].width, results[index].height) == SIZE
        assert_found(results[index].words, drawn)
    for index in (1, 3, 4):
        assert results[index].error and results[index].words == [] and results[index].width == 0
    assert "empty" in results[1].error and "truncated" in results[3].error


@pytest.mark.slow
def test_default_engine_realworld_scene_recall() -> None:
    from hopid.bench.ocr_engines import scene_recall

    root = _realworld()
    if root is None:
        pytest.skip("no real-world samples: set HOPID_REALWORLD or provide ../shared/realworld")
    if engine_problem(DEFAULT_ENGINE):
        pytest.skip(engine_problem(DEFAULT_ENGINE))
    recall, total, _ = scene_recall(create_engine(DEFAULT_ENGINE), root)
    assert total > 0 and recall >= 0.7
