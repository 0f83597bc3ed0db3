"""How far the light tagger of the torch-free query path is from the run's spaCy tagger, and
what that costs in retrieval.

Tagger agreement: word-level precision, recall and F1 of the light tagger (``hopid query``'s
cold path) against the spaCy tagger (what ``hopid eval`` and the full encoder run), and of
each against the weak labels (the caption words matching the image's OCR words), on a dataset
split's captions as written and lower-cased (as people type queries); and each tagger's recall
of the weak labels by kind of written word (number, phrase word, invented name).

Retrieval (unless ``--no-retrieval``): indexes the split's images with the run, then answers
every caption (as written and lower-cased) through :class:`hopid.search.searcher.Searcher`,
with the run's full encoder (spaCy tagger) and with the ONNX text side plus the light tagger,
as ``hopid query`` does; text->image R@1/5/10 (fused, as the searcher ranks) and ms per query.

    python scripts/light_tagger_recall.py RUN_DIR DATASET_DIR [--split test] [--no-retrieval]

Run it on the synthetic test split (training-like captions) and on a held-out folder
(``scripts/ablations.py`` prepares one under ``OUT/heldout``: words no training run saw).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CASINGS = ("as written", "lower-cased")


def recall(searcher, texts: list[str], truth: list[str], ks=(1, 5, 10)) -> tuple[dict[str, float], float]:
    """Text->image R@k of ``searcher`` over ``texts`` (``truth``: each text's image file name)
    and the mean ms per query."""
    ranks = []
    began = time.perf_counter()
    for text, path in zip(texts, truth, strict=True):
        hits = [Path(h.path).name for h in searcher.search(text, k=max(ks))]
        ranks.append(hits.index(path) if path in hits else max(ks))
    ms = (time.perf_counter() - began) * 1000 / len(texts)
    found = np.asarray(ranks)
    return {f"R@{k}": float((found < k).mean()) for k in ks}, ms


def cased(texts: Sequence[str], casing: str) -> list[str]:
    """The texts as written or lower-cased (character positions are kept)."""
    return [t.lower() for t in texts] if casing == "lower-cased" else list(texts)


def scores(texts: Sequence[str], gold, predicted) -> dict[str, float]:
    """Word-level precision, recall and F1 of ``predicted`` spans against ``gold`` spans."""
    from hopid.entities.weak_labels import score_spans

    s = score_spans(texts, gold, predicted)
    return {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4)}


def word_kind(word: str) -> str:
    """The kind of a written word of the synthetic sets: a number or number-led token, a word of
    the (training or held-out) phrases, else an invented name."""
    from hopid.synthetic.heldout_words import heldout_phrase_words
    from hopid.synthetic.words import training_words

    if any(ch.isdigit() for ch in word):
        return "number"
    phrases = training_words() | {w.lower() for w in heldout_phrase_words()}
    return "phrase word" if word.lower() in phrases else "name"


def recall_by_kind(texts: Sequence[str], gold, predicted) -> dict[str, dict[str, float]]:
    """Per :func:`word_kind`: how many weak-label words, and the share ``predicted`` covers."""
    from hopid.entities.text import words
    from hopid.entities.weak_labels import covered_words

    counts: dict[str, list[int]] = {}
    for text, gold_spans, predicted_spans in zip(texts, gold, predicted, strict=True):
        found, hit = words(text), covered_words(text, predicted_spans)
        for index in covered_words(text, gold_spans):
            tally = counts.setdefault(word_kind(found[index].text), [0, 0])
            tally[0] += 1
            tally[1] += index in hit
    return {kind: {"words": n, "recall": round(k / n, 4)} for kind, (n, k) in sorted(counts.items())}


def tagger_figures(encoder, light_tagger, texts: Sequence[str], weak: Sequence) -> dict[str, dict]:
    """Per casing: the light tagger against the spaCy tagger, each against the weak labels, and
    each one's recall of the weak labels by kind of written word."""
    out = {}
    for casing in CASINGS:
        shown = cased(texts, casing)
        spacy_spans = [[e.span for e in found] for found in encoder.entities(shown)]
        light_spans = [[e.span for e in found] for found in light_tagger.entities(shown)]
        out[casing] = {
            "light_vs_spacy": scores(shown, spacy_spans, light_spans),
            "spacy_vs_weak_labels": scores(shown, weak, spacy_spans),
            "light_vs_weak_labels": scores(shown, weak, light_spans),
            "spacy_recall_by_kind": recall_by_kind(shown, weak, spacy_spans),
            "light_recall_by_kind": recall_by_kind(shown, weak, light_spans),
        }
    return out


def retrieval_figures(dataset, images, captions, encoder) -> dict[str, dict]:
    """Index the split's images in a temporary folder; R@k and ms per query of the full and the
    light searcher, per casing."""
    from hopid.index.build import build_index
    from hopid.search.searcher import Searcher

    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        name_of = {}
        for image_id, path in zip(images["image_id"].to_list(), images["path"].to_list(), strict=True):
            source = dataset.image_path(path)
            name_of[image_id] = f"{image_id}{source.suffix}"
            shutil.copyfile(source, folder / name_of[image_id])
        build_index(folder, encoder, index_dir=Path(tmp) / "index")
        truth = [name_of[i] for i in captions["image_id"].to_list()]
        light = Searcher(Path(tmp) / "index")
        full = Searcher(Path(tmp) / "index", encoder=encoder)
        out["light_encoder"] = type(light.encoder).__name__
        for casing in CASINGS:
            texts = cased(captions["text"].to_list(), casing)
            for name, searcher in (("full", full), ("light", light)):
                figures, ms = recall(searcher, texts, truth)
                out.setdefault(casing, {})[name] = {**figures, "ms_per_query": round(ms, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--no-retrieval", action="store_true", help="tagger agreement only")
    args = parser.parse_args()

    from hopid.data.dataset import Dataset
    from hopid.entities.light import LIGHT_FILE, LightTagger
    from hopid.entities.weak_labels import label_dataset
    from hopid.models.run import RunEncoder

    dataset = Dataset.open(args.dataset)
    images, captions = dataset.split(args.split)
    encoder = RunEncoder(args.run)
    weak = {caption_id: spans for caption_id, _, spans in label_dataset(args.dataset, args.split)}
    texts = captions["text"].to_list()
    light_tagger = LightTagger.load(args.run / "tagger" / LIGHT_FILE)
    figures: dict = {
        "captions": len(texts),
        "images": images.height,
        "captions_with_weak_labels": sum(bool(weak[c]) for c in captions["caption_id"].to_list()),
        "tagger": tagger_figures(encoder, light_tagger, texts, [weak[c] for c in captions["caption_id"].to_list()]),
    }
    if not args.no_retrieval:
        figures["retrieval"] = retrieval_figures(dataset, images, captions, encoder)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
