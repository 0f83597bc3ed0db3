"""The synthetic scene-text benchmark: determinism, table invariants, text-only differences, OCR legibility,
and the held-out vocabulary's disjointness from everything training can write."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from hopid.data.schema import SPLITS, read_table, table_path
from hopid.entities.text import fold
from hopid.errors import HopidError
from hopid.synthetic import (
    GENERATOR_VERSION,
    TRAINING_VOCABULARY,
    WORD_KINDS,
    SyntheticSummary,
    generate,
    make_code,
    make_name,
    make_word,
)
from hopid.synthetic.captions import (
    MORE_TEXT_TEMPLATES,
    NUMBER_TEMPLATES,
    PLAIN_TEMPLATES,
    SIDE_TEMPLATES,
    TEXT_TEMPLATES,
    caption_vocabulary,
)
from hopid.synthetic.heldout_words import (
    HELDOUT_VOCABULARY,
    MARKER_LETTERS,
    MARKER_ONSETS,
    check_heldout,
    heldout_phrase_words,
    make_heldout_name,
    seen_in_training,
)
from hopid.synthetic.identities import generate_identities
from hopid.synthetic.words import CODAS, ONSETS, VOWELS, look_alike_name, training_can_emit, training_words
from hopid.train.loop import synthetic_cache_dir

GROUPS, VARIANTS = 24, 3


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _tables(root: Path) -> dict[str, pl.DataFrame]:
    return {name: read_table(table_path(root, name), name) for name in ("images", "captions", "ocr")}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticSummary, dict[str, pl.DataFrame]]:
    root = tmp_path_factory.mktemp("syn")
    summary = generate(root, seed=0, groups=GROUPS, variants=VARIANTS)
    return root, summary, _tables(root)


def _pixels(root: Path, path: str) -> np.ndarray:
    return np.asarray(Image.open(root / path).convert("RGB"))


def test_deterministic_and_seeded(bench, tmp_path: Path) -> None:
    root, summary, tables = bench
    again = generate(tmp_path / "a", seed=0, groups=GROUPS, variants=VARIANTS)
    assert again.images == summary.images
    for name, frame in _tables(tmp_path / "a").items():
        assert frame.equals(tables[name]), name
        assert table_path(tmp_path / "a", name).read_bytes() == table_path(root, name).read_bytes()
    for path in tables["images"]["path"]:
        assert (tmp_path / "a" / path).read_bytes() == (root / path).read_bytes()

    generate(tmp_path / "b", seed=1, groups=GROUPS, variants=VARIANTS)
    words = {_norm(t) for t in tables["ocr"]["text"]}
    other = {_norm(t) for t in _tables(tmp_path / "b")["ocr"]["text"]}
    assert words != other
    assert len(words & other) < 0.2 * len(words)


def test_tables_are_consistent(bench) -> None:
    root, summary, t = bench
    images, captions, ocr = t["images"], t["captions"], t["ocr"]
    assert summary.images == images.height and summary.captions == captions.height
    assert summary.ocr_tokens == ocr.height and sum(summary.images_per_split.values()) == images.height
    assert images["image_id"].is_unique().all() and captions["caption_id"].is_unique().all()
    assert images["path"].to_list() == [f"images/{i}.png" for i in images["image_id"]]
    assert all((root / p).is_file() for p in images["path"])
    assert set(images["width"]) == {256} and set(images["height"]) == {256}
    assert set(captions["image_id"]) == set(images["image_id"])
    assert (captions.group_by("image_id").len()["len"] == 5).all()
    assert captions["explanation"].null_count() == captions.height
    assert set(ocr["image_id"]) <= set(images["image_id"])
    assert set(ocr["engine"]) == {"groundtruth"} and set(ocr["confidence"]) == {1.0}
    # splits are by group, follow the images, and all three are used
    assert set(images["split"]) == set(SPLITS)
    assert (images.group_by("object_id").agg(pl.col("split").n_unique())["split"] == 1).all()
    joined = captions.join(images.select("image_id", pl.col("split").alias("image_split")), on="image_id")
    assert (joined["split"] == joined["image_split"]).all()
    # token indexes run 0.. per image
    for _, group in ocr.group_by("image_id"):
        assert sorted(group["token_index"]) == list(range(group.height))


def test_variants_differ_only_in_text(bench) -> None:
    root, _, t = bench
    boxes: dict[str, list[list[float]]] = {}
    for image_id, box in zip(t["ocr"]["image_id"], t["ocr"]["box"], strict=True):
        boxes.setdefault(image_id, []).append(box)
    compared = 0
    for _, group in t["images"].group_by("object_id", maintain_order=True):
        ids, paths = group["image_id"].to_list(), group["path"].to_list()
        first = _pixels(root, paths[0])
        for image_id, path in zip(ids[1:], paths[1:], strict=True):
            other = _pixels(root, path)
            mask = np.zeros(first.shape[:2], dtype=bool)
            for box in boxes.get(ids[0], []) + boxes.get(image_id, []):
                x0, y0, x1, y1 = (round(v * 256) for v in (box[0], box[1], box[4], box[5]))
                mask[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
            assert np.array_equal(first[~mask], other[~mask]), (ids[0], image_id)
            assert not np.array_equal(first, other)  # the words do differ
            compared += 1
    assert compared >= GROUPS


def test_some_images_have_no_text_and_groups_hold_distinct_words(bench) -> None:
    _, _, t = bench
    images, ocr = t["images"], t["ocr"]
    textless = set(images["image_id"]) - set(ocr["image_id"])
    assert textless
    sizes = images.group_by("object_id").len()
    for image_id in textless:
        object_id = images.filter(pl.col("image_id") == image_id)["object_id"][0]
        assert sizes.filter(pl.col("object_id") == object_id)["len"][0] == 1
    # the words of each image are unique, so text alone identifies an image
    written = ocr.sort("image_id", "token_index").group_by("image_id").agg(pl.col("text").str.to_lowercase())
    assert written["text"].list.join(" ").is_unique().all()


def test_captions_mention_words_mostly_and_never_distractors(bench) -> None:
    _, _, t = bench
    words: dict[str, list[str]] = {}
    for image_id, text in zip(t["ocr"]["image_id"], t["ocr"]["text"], strict=True):
        words.setdefault(image_id, []).append(_norm(text))
    by_image: dict[str, list[str]] = {}
    for image_id, text in zip(t["captions"]["image_id"], t["captions"]["text"], strict=True):
        by_image.setdefault(image_id, []).append(_norm(text))
    mentioning = silent = 0
    unmentioned_tokens = 0
    for image_id, tokens in words.items():
        for caption in by_image[image_id]:
            if any(token in caption for token in tokens):
                mentioning += 1
            else:
                silent += 1
        unmentioned_tokens += sum(not any(tok in c for c in by_image[image_id]) for tok in tokens)
    assert silent > 0 and mentioning > 0.75 * (mentioning + silent)
    assert unmentioned_tokens > 0  # distractor plates carry words no caption mentions


def _letters_apart(a: str, b: str) -> int | None:
    """How many letters two same-length words differ in (None for other lengths)."""
    return sum(x != y for x, y in zip(a, b, strict=True)) if len(a) == len(b) else None


def test_look_alike_name_respells_one_or_two_letters() -> None:
    rng = random.Random(7)
    for _ in range(500):
        name = make_name(rng)
        other = look_alike_name(name.upper(), rng)
        assert other is not None and other.islower()
        assert _letters_apart(name, other) in (1, 2), (name, other)
        assert training_can_emit(other), other  # a held-out word can never be one


def test_training_groups_hold_look_alike_names(bench, tmp_path: Path) -> None:
    """Later variants of a training group often re-spell its first name by one or two letters:
    hard negatives that only the spelling tells apart. The held-out generator makes none."""

    def look_alike_groups(t: dict[str, pl.DataFrame]) -> int:
        words = t["ocr"].join(t["images"].select("image_id", "object_id"), on="image_id")
        names = words.filter(pl.col("text").str.contains(r"^[A-Za-z]{5,}$")).sort("image_id", "token_index")
        found = 0
        for _, group in names.group_by("object_id"):
            first, *later = group.unique("image_id", keep="first", maintain_order=True)["text"].str.to_lowercase()
            found += any(_letters_apart(first, other) in (1, 2) for other in later)
        return found

    text_groups = GROUPS - round(GROUPS * 0.12)
    assert look_alike_groups(bench[2]) >= text_groups // 4
    generate(tmp_path, seed=0, groups=GROUPS, variants=VARIANTS, vocabulary=HELDOUT_VOCABULARY)
    assert look_alike_groups(_tables(tmp_path)) <= 1  # by chance only


def test_more_wording_only_in_the_training_captions(bench, tmp_path: Path) -> None:
    def template_words(templates: tuple[str, ...]) -> set[str]:
        return set(re.findall(r"[a-z]+", re.sub(r"\{[^}]*\}", " ", " ".join(templates))))

    def caption_words(t: dict[str, pl.DataFrame]) -> set[str]:
        return set(re.findall(r"[a-z]+", " ".join(t["captions"]["text"]).lower()))

    new = template_words(MORE_TEXT_TEMPLATES) - template_words(
        TEXT_TEMPLATES + SIDE_TEMPLATES + NUMBER_TEMPLATES + PLAIN_TEMPLATES
    )
    assert new == {"from", "name", "bearing", "big", "letters"}
    assert caption_words(bench[2]) >= new
    generate_identities(tmp_path, seed=0, identities=10, views=2)
    assert not caption_words(_tables(tmp_path)) & new


def test_cache_key_names_the_generator_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOPID_CACHE", str(tmp_path))
    settings = {"seed": 0, "groups": 60, "variants": 5, "size": 256}
    assert GENERATOR_VERSION >= 2  # 2: look-alike names and more caption wording
    name = f"synthetic-v{GENERATOR_VERSION}-seed0-groups60-variants5-size256"
    assert synthetic_cache_dir(settings) == tmp_path / name


def test_boxes_are_normalised_and_hold_text_pixels(bench) -> None:
    root, _, t = bench
    paths = dict(zip(t["images"]["image_id"], t["images"]["path"], strict=True))
    cache: dict[str, np.ndarray] = {}
    for image_id, box in zip(t["ocr"]["image_id"], t["ocr"]["box"], strict=True):
        assert all(0.0 <= v <= 1.0 for v in box)
        xs, ys = box[0::2], box[1::2]
        assert xs[0] == xs[3] < xs[1] == xs[2] and ys[0] == ys[1] < ys[2] == ys[3]
        if image_id not in cache:
            cache[image_id] = _pixels(root, paths[image_id]).astype(float).mean(axis=2)
        crop = cache[image_id][round(ys[0] * 256) : round(ys[2] * 256), round(xs[0] * 256) : round(xs[1] * 256)]
        assert crop.size and crop.max() - crop.min() > 100  # ink contrasts with its panel


def test_cut_short_run_leaves_no_tables(tmp_path: Path) -> None:
    generate(tmp_path, seed=0, groups=3, variants=2)
    assert table_path(tmp_path, "images").is_file()

    def stop(stage: str, done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, seed=0, groups=3, variants=2, progress=stop)
    assert not any(table_path(tmp_path, n).exists() for n in ("images", "captions", "ocr"))


def test_progress_and_bad_arguments(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    summary = generate(tmp_path, seed=5, groups=2, variants=2, size=320, progress=lambda *call: seen.append(call))
    assert seen == [("render", done, 4) for done in (1, 2, 3, 4)] and summary.images == 4
    assert set(read_table(table_path(tmp_path, "images"), "images")["width"]) == {320}
    with pytest.raises(HopidError):
        generate(tmp_path, groups=0)
    with pytest.raises(HopidError):
        generate(tmp_path, size=32)


def test_words_are_invented_and_seeded() -> None:
    a = [make_name(random.Random(1)) for _ in range(3)]
    assert a == [make_name(random.Random(1)) for _ in range(3)]
    rng = random.Random(0)
    names = [make_name(rng) for _ in range(200)]
    assert len(set(names)) > 180 and all(5 <= len(n) <= 9 and n.isalpha() for n in names)
    assert not set("il") & set("".join(names))
    styled = [make_word(rng, "name") for _ in range(50)]
    assert any(w.isupper() for w in styled) and any(w.istitle() for w in styled)
    assert all(w.isdigit() for w in (make_word(rng, "number") for _ in range(20)))


@pytest.mark.slow
def test_rapidocr_reads_the_ground_truth(tmp_path: Path) -> None:
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    generate(tmp_path, seed=7, groups=10, variants=2)
    t = _tables(tmp_path)
    engine = rapidocr.RapidOCR()
    found = total = 0
    for image_id, path in list(zip(t["images"]["image_id"], t["images"]["path"], strict=True))[:20]:
        result, _ = engine(_pixels(tmp_path, path))
        read = Counter(_norm(w) for line in result or [] for w in line[1].split())
        for word in t["ocr"].filter(pl.col("image_id") == image_id)["text"]:
            total += 1
            if read[_norm(word)] > 0:
                read[_norm(word)] -= 1
                found += 1
    assert total >= 20
    assert found / total >= 0.9, f"rapidocr recovered {found}/{total} ground-truth words"


SEEDS = (0, 1, 2, 3)


def _tokens(root: Path) -> set[str]:
    return {_norm(t) for t in _tables(root)["ocr"]["text"]}


def test_training_vocabulary_covers_every_training_word(tmp_path: Path) -> None:
    # the description held-out words are checked against must cover what training writes
    for seed in SEEDS:
        generate(tmp_path / f"t{seed}", seed=seed, groups=20, variants=3)
        generate_identities(tmp_path / f"i{seed}", seed=seed, identities=10, views=2)
        for root in (tmp_path / f"t{seed}", tmp_path / f"i{seed}"):
            missed = [t for t in _tables(root)["ocr"]["text"] if not training_can_emit(t)]
            assert not missed, (seed, missed)
        rng = random.Random(seed)
        sampled = [TRAINING_VOCABULARY.word(rng, kind) for kind in WORD_KINDS for _ in range(300)]
        sampled += [make_code(rng) for _ in range(300)]
        assert all(training_can_emit(w) for text in sampled for w in text.split())
    assert not training_can_emit("quzobe") and not training_can_emit("12345") and not training_can_emit("318KX")


def test_heldout_vocabulary_is_disjoint_from_training(tmp_path: Path) -> None:
    training = set().union(*(_tokens(_generated(tmp_path / f"t{s}", s)) for s in SEEDS))
    for seed in SEEDS:
        generate(tmp_path / f"h{seed}", seed=seed, groups=20, variants=3, vocabulary=HELDOUT_VOCABULARY)
        heldout = _tokens(tmp_path / f"h{seed}")
        assert len(heldout) > 50
        assert not heldout & training, seed
        assert not [t for t in heldout if training_can_emit(t)], seed
        rng = random.Random(seed)
        names = [make_heldout_name(rng) for _ in range(500)]
        assert all(MARKER_LETTERS & set(n) and 5 <= len(n) <= 9 and n.isalpha() for n in names)
        assert not set("il") & set("".join(names))
        words = [w for kind in WORD_KINDS for _ in range(300) for w in HELDOUT_VOCABULARY.word(rng, kind).split()]
        words += [HELDOUT_VOCABULARY.code(rng) for _ in range(300)]
        assert not seen_in_training(words), seed
    # by construction: no training name can hold a marker letter, no held-out phrase word is a
    # training or caption word
    assert not MARKER_LETTERS & set("".join(ONSETS + VOWELS + CODAS))
    assert all(MARKER_LETTERS & set(onset) for onset in MARKER_ONSETS)
    assert not {fold(w) for w in heldout_phrase_words()} & (training_words() | caption_vocabulary())
    with pytest.raises(HopidError, match="held-out"):
        check_heldout(["quzobe", "Zobex"])


def _generated(root: Path, seed: int) -> Path:
    generate(root, seed=seed, groups=20, variants=3)
    return root


def test_heldout_identities_use_the_heldout_vocabulary(tmp_path: Path) -> None:
    generate_identities(tmp_path, seed=4, identities=10, views=2, vocabulary=HELDOUT_VOCABULARY)
    tokens = _tokens(tmp_path)
    assert tokens and not seen_in_training(tokens)
