"""Entity inferring: weak labels, rules, the prompt, a real spaCy tagger training, the dataset stage."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from hopid.data.schema import read_table, table_path, write_table
from hopid.entities import Entity, hopid_prompt, prompt_words, rule_entities
from hopid.entities.infer import add_evidence, infer_dataset, infer_texts
from hopid.entities.tagger import load_tagger, train_tagger
from hopid.entities.weak_labels import label_dataset, score_spans, weak_spans
from hopid.errors import HopidError


def marked(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in spans]


# --- weak labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caption", "ocr", "expected"),
    [
        ("a red truck with Zorbex written on it", ["ZORBEX", "EXIT"], ["Zorbex"]),
        ("a red truck with zorbex written on it", ["Zorbex"], ["zorbex"]),
        ("a Reserver parking space", ["RESERVED"], ["Reserver"]),
        ("the Harbour Front station", ["HarbourFront"], ["Harbour Front"]),
        ("the HarbourFront station", ["Harbour", "Front"], ["HarbourFront"]),
        ("West Indian food stall", ["food", "west", "indian"], ["West Indian food"]),
        ("Zorbex, Krudan and more", ["zorbex", "krudan"], ["Zorbex", "Krudan"]),
        ("the shop on the corner", ["THE", "SHOP"], ["shop"]),
        ("a cup of tea", ["TEAM"], []),
        ("a cup of tea", ["TEA"], ["tea"]),
        ("gate 7 at the airport", ["GATE", "1"], ["gate"]),
        ("a red zorbex van", ["zorbex"], ["zorbex"]),
        ("nothing here", [], []),
    ],
)
def test_weak_spans(caption: str, ocr: list[str], expected: list[str]) -> None:
    assert marked(caption, weak_spans(caption, ocr)) == expected


def test_stopwords_never_match_alone() -> None:
    caption = "a sign with the words on it"
    assert weak_spans(caption, ["A", "SIGN", "THE", "WORDS", "ON", "IT"]) == []


# --- rules and prompt --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("A red truck with Zorbex written on it.", ["Zorbex"]),
        ("Apple truck parked outside.", []),  # a capital at a sentence start, an English word
        ("Zorbex truck parked outside.", ["Zorbex"]),  # ... a word English does not use
        ("a grey badge branded deirlami", ["deirlami"]),
        ("the sign of bruphybam brashar, unit MU8867", ["bruphybam brashar", "MU8867"]),
        ("a man riding a horse on the beach at dusk", []),
        ('a sign saying "fresh bread" next to GATE 7', ["fresh bread", "GATE 7"]),
        ("the HarbourFront mall and an iPhone ad on bus 42b", ["HarbourFront", "iPhone", "42b"]),
        ("a poster reading 'the cafe' at Harbour Front", ["the cafe", "Harbour Front"]),
        ("It is what it is. The end", []),
        ("a dog's bowl near the door", []),
    ],
)
def test_rule_entities(caption: str, expected: list[str]) -> None:
    found = rule_entities(caption)
    assert [e.text for e in found] == expected
    assert all(caption[e.start : e.end] == e.text and e.source == "rules" and 0 < e.score <= 1 for e in found)


def test_without_the_english_list_lower_case_words_are_never_marked(monkeypatch) -> None:
    from hopid.entities import rules

    monkeypatch.setattr(rules, "ENGLISH_LIST", ("hopid", "no-such-list.txt"))
    rules.english_words.cache_clear()
    try:
        assert rules.english_words() is None
        assert rule_entities("a grey badge branded deirlami") == []
    finally:
        rules.english_words.cache_clear()


def test_rule_evidence_adds_the_words_the_tagger_left_of_a_name() -> None:
    text = "matrekhon goghan HB8217 on a pink signboard"
    tagger = [Entity("matrekhon", 0, 9, 0.9, "tagger"), Entity("HB8217", 17, 23, 0.9, "tagger")]
    found = add_evidence(tagger, rule_entities(text))
    assert [(e.text, e.source) for e in found] == [("matrekhon", "tagger"), ("goghan", "rules"), ("HB8217", "tagger")]
    assert all(text[e.start : e.end] == e.text for e in found)
    assert add_evidence(tagger, []) == tagger


def test_prompt_format() -> None:
    assert hopid_prompt(["food", "West", "Indian"]) == 'There are scene texts: "food", "West", "Indian" in this image.'
    assert hopid_prompt(["Zorbex", "ZORBEX", " ", "cafe"]) == 'There are scene texts: "Zorbex", "cafe" in this image.'
    assert hopid_prompt([]) == "There are no scene texts in this image."
    entities = [Entity("West Indian", 0, 11, 1.0, "tagger"), Entity("the food", 12, 20, 1.0, "tagger")]
    assert prompt_words(entities) == ["West", "Indian", "food"]


# --- a tiny synthetic dataset ------------------------------------------------------------------

TEMPLATES = (
    "a {c} truck with {w} written on its side",
    "a shop sign that reads {w} above the door",
    "a {c} bus advertising {w} parked on the street",
    "a storefront with the name {w} in large letters",
    "a bottle of {w} on a wooden table",
    "people walking past the {w} cafe at night",
    "a {c} van with the {w} logo on the back",
    "a poster for {w} on a brick wall",
    "a man in a {c} t-shirt that says {w}",
    "a box of {w} crackers on a shelf",
)
PLAIN = ("a dog running on the grass", "two people sitting on a {c} bench", "a {c} car parked near a tree")
COLORS = ("red", "blue", "green", "white", "black", "yellow")
DISTRACTORS = ("EXIT", "PUSH", "ENTRANCE", "PULL")


def invented(rng: random.Random, used: set[str]) -> str:
    while True:
        word = "".join(rng.choice("bdgkmnprstvz") + rng.choice("aeiou") for _ in range(rng.choice((2, 3))))
        word += rng.choice(("x", "n", "r", "k", ""))
        if word not in used:
            used.add(word)
            return word


def make_dataset(root: Path, n_images: int = 300, seed: int = 0) -> Path:
    """Images (no pixels needed), one caption each, OCR = the invented word + a distractor.

    Train captions mix lower case, Capitalised and UPPER words; val and test captions are all
    lower case, with invented words never seen in training.
    """
    rng, used = random.Random(seed), set()
    images, captions, ocr = [], [], []
    for i in range(n_images):
        split = "train" if i < n_images * 0.6 else "val" if i < n_images * 0.8 else "test"
        image_id = f"img{i:04d}"
        word = invented(rng, used)
        if rng.random() < 0.15:
            text, written = rng.choice(PLAIN).format(c=rng.choice(COLORS)), []
        else:
            shown = word if split != "train" else rng.choice((word, word, word.capitalize(), word.upper()))
            text, written = rng.choice(TEMPLATES).format(c=rng.choice(COLORS), w=shown), [word.upper()]
        tokens = [*written, rng.choice(DISTRACTORS)]
        images.append({"image_id": image_id, "path": f"{image_id}.png", "split": split, "width": 64, "height": 64})
        captions.append({"caption_id": f"c{i:04d}", "image_id": image_id, "text": text, "split": split})
        box = [0.1, 0.1, 0.5, 0.1, 0.5, 0.2, 0.1, 0.2]
        ocr += [
            {"image_id": image_id, "token_index": k, "text": t, "confidence": 1.0, "box": box, "engine": "groundtruth"}
            for k, t in enumerate(tokens)
        ]
    write_table(pl.DataFrame(images), table_path(root, "images"), "images")
    write_table(pl.DataFrame(captions), table_path(root, "captions"), "captions")
    write_table(pl.DataFrame(ocr), table_path(root, "ocr"), "ocr")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("captions"))


@pytest.fixture(scope="module")
def trained(dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("tagger")
    return out, train_tagger(dataset, out, epochs=12, seed=0)


def test_label_dataset(dataset: Path) -> None:
    rows = label_dataset(dataset, "test")
    assert len(rows) == 60
    with_spans = [(text, spans) for _, text, spans in rows if spans]
    assert len(with_spans) > 40
    assert all(len(spans) == 1 for _, spans in with_spans)


@pytest.mark.slow
def test_tagger_and_the_rare_word_rule_find_unseen_lowercase_words(dataset: Path, trained, monkeypatch) -> None:
    from hopid.entities import rules as rules_module

    out, report = trained
    # Observed (seed 0, 2 CPU cores): val and test P = R = F1 = 1.00 (best epoch 7, 11 run, about 17 s);
    # the shape rules alone find nothing in these lower-case captions (P = R = F1 = 0), the rare-word
    # rule finds every invented word (F1 = 1.00). The thresholds leave a wide margin yet fail an
    # untrained or broken tagger, or a rule that marks English words.
    assert report.test.precision >= 0.8 and report.test.recall >= 0.8
    assert report.val.f1 >= 0.8
    assert 1 <= report.best_epoch <= report.epochs_run <= 12
    rows = label_dataset(dataset, "test")
    texts, gold = [t for _, t, _ in rows], [s for _, _, s in rows]

    def rules_f1() -> float:
        return score_spans(texts, gold, [[e.span for e in found] for found in infer_texts(texts)]).f1

    assert rules_f1() >= 0.8
    monkeypatch.setattr(rules_module, "is_rare", lambda word: False)
    assert report.test.f1 >= rules_f1() + 0.5
    assert (out / "tagger.json").is_file() and (out / "model" / "config.cfg").is_file()


@pytest.mark.slow
def test_tagger_round_trip_and_infer_dataset(dataset: Path, trained, tmp_path: Path) -> None:
    out, _ = trained
    tagger = load_tagger(out)
    texts = ["a green truck with vorunak written on its side", "a dog running on the grass", "Zorbex cafe"]
    first = tagger.entities(texts)
    assert load_tagger(out).entities(texts) == first
    assert [e.text for e in first[0]] == ["vorunak"] and first[1] == []
    assert all(e.source == "tagger" for found in first for e in found)

    # a name written in wording the tagger never saw: its shape rules add what the tagger left
    other = ["signboard: Thebras Detoshesh (VG4458)", "the DEIRLAMI logo on a grey badge"]
    combined = infer_texts(other, tagger)
    for text, own, found in zip(other, tagger.entities(other), combined, strict=True):
        assert all(e in found for e in own)
        for rule in rule_entities(text):
            assert any(e.start < rule.end and rule.start < e.end for e in found), (text, rule)
    assert any("DEIRLAMI" in e.text for e in combined[1])

    summary = infer_dataset(dataset, out)
    assert summary.source == "tagger" and summary.captions == 300
    entities = read_table(table_path(dataset, "entities"), "entities")
    assert set(entities["source"].unique()) == {"tagger"}
    assert summary.entities == entities.height and summary.captions_with_entities > 200


def test_infer_dataset_with_rules(tmp_path: Path) -> None:
    root = make_dataset(tmp_path, n_images=20)
    captions = read_table(table_path(root, "captions"), "captions").with_columns(
        pl.when(pl.col("caption_id") == "c0000")
        .then(pl.lit("A bus advertising Zorbex and West Indian food"))
        .otherwise(pl.col("text"))
        .alias("text")
    )
    write_table(captions, table_path(root, "captions"), "captions")
    summary = infer_dataset(root, pretrained=True)  # an absent en_core_web_sm is skipped, never required
    assert summary.source == "rules" and summary.captions == 20
    entities = read_table(table_path(root, "entities"), "entities")
    prompts = read_table(table_path(root, "prompts"), "prompts")
    assert entities.columns == ["caption_id", "text", "start", "end", "score", "source"]
    assert entities.schema["start"] == pl.Int32 and entities.schema["score"] == pl.Float32
    assert prompts.columns == ["caption_id", "words", "prompt"] and prompts.height == 20
    first = prompts.filter(pl.col("caption_id") == "c0000").row(0, named=True)
    assert first["words"] == ["Zorbex", "West", "Indian"]
    assert first["prompt"] == 'There are scene texts: "Zorbex", "West", "Indian" in this image.'
    assert entities.filter(pl.col("caption_id") == "c0000")["text"].to_list() == ["Zorbex", "West Indian"]


def test_bad_tagger_dir(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(HopidError, match="hopid entities train"):
        load_tagger(tmp_path / "missing")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.cfg").write_text("not a config")
    (tmp_path / "tagger.json").write_text('{"label": "SCENE_TEXT"}')
    with pytest.raises(HopidError, match="hopid entities train"):
        load_tagger(tmp_path)
    with pytest.raises(HopidError, match="hopid entities train"):
        infer_dataset(dataset, tmp_path)


def test_training_needs_weak_labels(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", n_images=20)
    write_table(read_table(table_path(root, "ocr"), "ocr").head(0), table_path(root, "ocr"), "ocr")
    with pytest.raises(HopidError, match="hopid ocr"):
        train_tagger(root, tmp_path / "out", epochs=1)


def test_light_tagger_learns_the_taggers_decisions_and_round_trips(tmp_path):
    from hopid.entities.light import LightTagger, agreement, learn_light_tagger

    texts = [
        "a truck that reads zorbex on the side",
        "a box that reads quilmo in red",
        "a cup that reads velto",
        "Apple is written on a green bag",  # the tagger marked "Apple" ...
        "an Apple on a table",  # ... but not here: seen twice, marked once (rate 0.5)
        "a Blue sign",
        "a Blue door",  # "Blue" capitalised but never marked by the tagger
    ]
    spans = [[(19, 25)], [(17, 23)], [(16, 21)], [(0, 5)], [], [], []]
    light = learn_light_tagger(texts, spans)
    assert light.triggers["reads"][0] == 1.0  # every word after "reads" was marked
    assert light.words["blue"] == [0.0, 2]

    def found(text: str) -> list[str]:
        return [e.text for e in light.entities_of(text)]

    assert found("a mug that reads plinth") == ["plinth"]  # unseen word after a trigger
    assert found("a Blue truck near Exit 5") == ["Exit 5"]  # rules for unseen words, lexicon for "Blue"
    assert found("Apple juice") == ["Apple"]
    assert found("the") == [] and found("") == []
    light.agreement = agreement(light, texts, spans)
    assert light.agreement["recall"] == 1.0 and light.agreement["precision"] < 1.0  # "an Apple" is marked
    again = LightTagger.load(light.save(tmp_path / "light.json"))
    assert again == light
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(HopidError, match="unreadable light tagger"):
        LightTagger.load(tmp_path / "broken.json")
