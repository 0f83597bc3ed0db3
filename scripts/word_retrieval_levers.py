"""Word-retrieval mAP with the scene-text matching levers of docs/benchmarks.md switched on one by one.

Each dataset is a folder made by ``hopid prepare svt|icdar15`` whose OCR was read by a real
engine (``hopid ocr DATASET`` or a first ``hopid eval DATASET``). Every row adds one lever to
the row above it; the last row is hopid as shipped.

    python scripts/word_retrieval_levers.py data/svt-train data/ic15-train --split train
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from unittest import mock

from hopid.data.dataset import Dataset
from hopid.entities.text import content_words
from hopid.eval.evaluate import evaluate_words
from hopid.models.factory import load_encoder
from hopid.scenetext import lexical

# (label, the lever's setting *before* it was added, as (object, attribute, value))
LEVERS = [
    ("short queries keep stop-words", (lexical, "searched_words", content_words)),
    ("words glued in one OCR token", (lexical, "token_parts", lambda text: [])),
    ("query word at a token's start or end", (lexical, "AFFIX_MIN_LENGTH", 10**6)),
    ("OCR confidence orders equal matches", (lexical, "CONFIDENCE_WEIGHT", 0.0)),
    ("one wrong letter as a loose match", (lexical, "LOOSE_SIMILARITY", 2.0)),
    ("a number's percent sign is searched", (lexical, "signed_key", lambda word, text: word.key)),
    ("a long word cut by its box", (lexical, "CUT_MIN_LENGTH", 10**6)),
    ("letters of a widely spaced sign joined", (lexical, "SPACED_MIN_RUN", 10**6)),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--ocr-engine", default=None)
    args = parser.parse_args(argv)
    encoder = load_encoder(args.model)
    datasets = [Dataset.open(path, need_captions=False) for path in args.datasets]
    print("| lever | " + " | ".join(args.datasets) + " |")
    print("| --- |" + " ---: |" * len(datasets))
    for added in range(len(LEVERS) + 1):
        with ExitStack() as stack:
            for _, (owner, name, before) in LEVERS[added:]:
                stack.enter_context(mock.patch.object(owner, name, before))
            scores = [
                evaluate_words(data, encoder, split=args.split, ocr_engine=args.ocr_engine).metrics["map"]
                for data in datasets
            ]
        label = "before (stop-words dropped, whole tokens only)" if added == 0 else f"+ {LEVERS[added - 1][0]}"
        print(f"| {label} | " + " | ".join(f"{100 * s:.2f}" for s in scores) + " |")


if __name__ == "__main__":
    main()
