"""Pictures: contact sheet and HTML of `hopid query`, `hopid viz retrieval|tsne|attention`, and
the demo's figures, with the real tiny open_clip model, real OCR and real FAISS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import render_words
from PIL import Image
from typer.testing import CliRunner

from hopid_cli.app import app

runner = CliRunner()


def check_png(
    path: Path, min_size: tuple[int, int] = (300, 200), max_size: tuple[int, int] = (3000, 3000)
) -> Image.Image:
    """The PNG exists, opens, has a sensible size and is not blank."""
    assert path.is_file(), path
    image = Image.open(path)
    assert image.format == "PNG"
    width, height = image.size
    assert min_size[0] <= width <= max_size[0] and min_size[1] <= height <= max_size[1], image.size
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    return image


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip()
    assert line.startswith("error:") and fragment in line, line
    assert len(line.replace("\n", " ")) < 400


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from hopid.synthetic import generate

    root = tmp_path_factory.mktemp("viz") / "synthetic"
    generate(root, seed=3, groups=10, variants=3, size=128)
    return root


@pytest.fixture(scope="module")
def photos_index(tmp_path_factory, tiny_encoder) -> Path:
    from hopid.index.build import build_index

    root = tmp_path_factory.mktemp("vizphotos") / "photos"
    for name, words in {"zorbex.png": ["ZORBEX"], "klaxo.png": ["Klaxo", "Bakery"], "nums.png": ["Gate", "63"]}.items():
        render_words(root / name, words)
    build_index(root, tiny_encoder, workers=1)
    return root / ".hopid"


def test_query_grid_and_html_follow_the_json_order(photos_index, tmp_path):
    grid, page = tmp_path / "sheet" / "grid.png", tmp_path / "page.html"
    args = ["query", "klaxo bakery", "--index", str(photos_index), "-k", "3", "--model", "tiny"]
    result = runner.invoke(app, [*args, "--json", "--grid", str(grid), "--html", str(page)])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)  # stdout stays JSON only
    assert len(hits) == 3 and hits[0]["path"].endswith("klaxo.png") and hits[0]["matched"]
    image = check_png(grid, (600, 250))
    assert image.width > image.height  # three thumbnails in one row
    text = page.read_text()
    assert re.findall(r'data-path="([^"]+)"', text) == [hit["path"] for hit in hits]
    assert [int(r) for r in re.findall(r'data-rank="(\d+)"', text)] == [1, 2, 3]
    first = text.split('class="hit"')[1]
    assert "<mark>" in first and "data:image/jpeg;base64," in first and "<polygon" in first
    assert f"{hits[0]['score']:.3f}" in first


def test_words_of_hits_and_matching(photos_index):
    from hopid.scenetext.lexical import ocr_word_matches as is_matched
    from hopid.search.searcher import Searcher

    searcher = Searcher(photos_index)
    hits = searcher.search("gate 63", 2)
    words = searcher.hit_words(hits)
    assert set(words) == {hit.path for hit in hits}
    found = [word.text for word in words[hits[0].path]]
    assert "63" in found and all(len(word.box) == 8 for word in words[hits[0].path])
    assert is_matched("GATE", ["gate"]) and is_matched("CocaCola", ["cola"]) and not is_matched("Bakery", ["gate"])


def test_query_grid_must_be_png(photos_index, tmp_path):
    result = runner.invoke(app, ["query", "zorbex", "--index", str(photos_index), "--grid", str(tmp_path / "x.jpg")])
    one_line_error(result, ".png")


def test_choose_queries_includes_failures():
    from hopid.viz.retrieval import choose_queries

    ranks = pl.DataFrame(
        {
            "direction": ["t2i"] * 8 + ["i2t"] * 2,
            "query_id": [f"c{i}" for i in range(8)] + ["a", "b"],
            "first_hit_rank": [1, 1, 1, 1, 1, 3, 7, 2, 1, 1],
        }
    )
    chosen = choose_queries(ranks, "t2i", 4, seed=1)
    assert len(chosen) == 4 and [r > 1 for _, r in chosen] == [False, False, True, True]
    assert choose_queries(ranks, "t2i", 4, seed=1) == chosen  # seeded
    assert [r for _, r in choose_queries(ranks, "i2t", 4)] == [1, 1]  # no failures: what there is


def test_viz_retrieval_both_directions(synthetic, tmp_path):
    out = tmp_path / "retrieval"
    args = ["viz", "retrieval", str(synthetic), "--model", "tiny", "--split", "train", "-n", "3", "--out"]
    result = runner.invoke(app, [*args, str(out)])
    assert result.exit_code == 0, result.output
    assert "the model's rankings" in result.stderr
    t2i, i2t = check_png(out / "t2i.png", (800, 400)), check_png(out / "i2t.png", (800, 400))
    assert result.stdout.split() == [str(out / "t2i.png"), str(out / "i2t.png")]

    evaluated = runner.invoke(app, ["eval", str(synthetic), "--split", "train", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    again = runner.invoke(app, [*args, str(tmp_path / "again"), "-n", "1"])
    assert again.exit_code == 0 and "per_query.parquet" in again.stderr
    assert Image.open(tmp_path / "again" / "t2i.png").height < t2i.height  # one row instead of three
    assert Image.open(tmp_path / "again" / "i2t.png").height < i2t.height

    captions = pl.read_parquet(synthetic / "captions.parquet").filter(pl.col("split") == "train")
    chosen = runner.invoke(app, [*args, str(tmp_path / "chosen"), "--query", captions["caption_id"][0]])
    assert chosen.exit_code == 0, chosen.output
    assert (tmp_path / "chosen" / "t2i.png").is_file() and not (tmp_path / "chosen" / "i2t.png").exists()
    one_line_error(runner.invoke(app, [*args, str(tmp_path / "x"), "--query", "no-such-id"]), "no-such-id")
    one_line_error(runner.invoke(app, [*args[:-5], "--split", "nonsense", "--out", str(tmp_path / "y")]), "nonsense")


def test_viz_tsne_compare_draws_two_panels(synthetic, tmp_path):
    base = ["viz", "tsne", str(synthetic), "--model", "tiny", "--split", "train", "--groups", "6"]
    single = runner.invoke(app, [*base, "--out", str(tmp_path / "one.png")])
    assert single.exit_code == 0, single.output
    both = runner.invoke(app, [*base, "--compare", "tiny", "--color-by", "word", "--out", str(tmp_path / "two.png")])
    assert both.exit_code == 0, both.output
    one, two = check_png(tmp_path / "one.png"), check_png(tmp_path / "two.png")
    assert two.width > 1.5 * one.width and two.height == one.height
    bad = runner.invoke(app, [*base, "--color-by", "colour", "--out", str(tmp_path / "bad.png")])
    one_line_error(bad, "--color-by")


def _image_with_text(synthetic: Path) -> tuple[Path, str]:
    ocr = pl.read_parquet(synthetic / "ocr.parquet")
    images = pl.read_parquet(synthetic / "images.parquet")
    row = images.filter(pl.col("image_id") == ocr["image_id"][0])
    return synthetic / row["path"][0], row["image_id"][0]


def test_attention_differs_with_the_visual_prompt(synthetic, tiny_encoder):
    from hopid.data.dataset import Dataset
    from hopid.viz.attention import attention_maps, scene_text
    from hopid.viz.canvas import open_image

    path, _ = _image_with_text(synthetic)
    tokens = scene_text(path, Dataset.open(synthetic))
    assert tokens
    image = open_image(path)
    before = tiny_encoder.encode_images([image])
    maps, prompted = attention_maps(tiny_encoder, image, tokens)
    assert maps.plain.shape == maps.prompted.shape == (8, 8)  # the tiny tower's patch grid
    assert 0 < maps.plain.sum() <= 1 + 1e-5 and (maps.plain >= 0).all()
    assert np.abs(maps.plain - maps.prompted).max() > 1e-6
    assert np.asarray(prompted).tolist() != np.asarray(image).tolist()  # red boxes drawn
    assert all(0 <= share <= 1 for share in maps.box_share)
    block = tiny_encoder.model.visual.transformer.resblocks[-1]
    assert not block._forward_pre_hooks  # the hook is gone and the model unchanged
    np.testing.assert_allclose(tiny_encoder.encode_images([image]), before, atol=1e-6)


def test_viz_attention_cli_and_errors(synthetic, tmp_path):
    path, _ = _image_with_text(synthetic)
    out = tmp_path / "attention.png"
    args = ["viz", "attention", str(path), "--model", "tiny", "--dataset", str(synthetic), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    image = check_png(out, (800, 200))
    assert image.width > 2.5 * image.height  # four panels in a row
    assert "on OCR boxes" in result.stderr
    missing = runner.invoke(app, ["viz", "attention", str(tmp_path / "nope.png"), "--out", str(out)])
    one_line_error(missing, "no such image")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    one_line_error(runner.invoke(app, ["viz", "attention", str(broken), "--out", str(out)]), "broken.png")
    other = tmp_path / "other.png"
    render_words(other, ["Zorbex"])
    stranger = runner.invoke(app, ["viz", "attention", str(other), "--dataset", str(synthetic), "--out", str(out)])
    one_line_error(stranger, "not an image of the dataset")


@pytest.mark.parametrize("command", ["retrieval", "tsne", "attention"])
def test_viz_help(command):
    result = runner.invoke(app, ["viz", command, "--help"])
    assert result.exit_code == 0 and "--out" in result.stdout and "--model" in result.stdout


@pytest.mark.slow
def test_demo_figures_with_a_trained_run(tmp_path, monkeypatch, tiny_encoder):
    """A trained HOPID run (one epoch): every picture of the demo, attention through HopidNet."""
    from hopid.data.dataset import Dataset
    from hopid.index.build import build_index
    from hopid.models.run import RunEncoder
    from hopid.search.searcher import Searcher
    from hopid.viz.figures import demo_figures

    monkeypatch.setenv("HOPID_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    small = ["data.synthetic.groups=12", "data.synthetic.variants=4", "data.synthetic.seed=3", "tagger.epochs=2"]
    small += ["train.epochs=1", "train.batch_size=32", "train.threads=1", "train.warmup_steps=2"]
    sets = [arg for item in small for arg in ("--set", item)]
    trained = runner.invoke(app, ["train", "demo-tiny", *sets, "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    dataset = Dataset.open(next((tmp_path / "cache").glob("synthetic-*")))
    hopid = RunEncoder(run)
    build_index(dataset.root / "images", hopid, index_dir=tmp_path / "index", workers=1)
    searcher = Searcher(tmp_path / "index", encoder=hopid)
    query = dataset.captions["text"][0]
    figures = demo_figures(dataset, hopid, tiny_encoder, searcher, query, tmp_path / "figures")
    assert set(figures) >= {"query contact sheet", "query HTML page", "retrieval t2i", "retrieval i2t", "t-SNE"}
    for what, path in figures.items():
        if path.suffix == ".png":
            check_png(path)
        assert path.stat().st_size < 400_000, what
