"""Train the scene-text tagger on the synthetic benchmark and compare it with the rule fallback (docs/entities.md).

Usage: python scripts/entities_report.py [--dir /tmp/hopid-entities-report] [--seed 0] [--epochs 15]

The truth is the weak labels made from the benchmark's ground-truth OCR. Rows: the test
split as written, and the same captions lower-cased (as people often type queries).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hopid.entities.infer import infer_texts
from hopid.entities.tagger import Tagger, load_pretrained, load_tagger, train_tagger
from hopid.entities.weak_labels import SpanScores, label_dataset, score_spans
from hopid.synthetic import generate


def scores(texts: list[str], gold: list, tagger: Tagger | None, pretrained=None) -> SpanScores:
    predicted = infer_texts(texts, tagger, pretrained=pretrained)
    return score_spans(texts, gold, [[e.span for e in found] for found in predicted])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/hopid-entities-report"), help="work directory")
    parser.add_argument("--seed", type=int, default=0, help="seed of the benchmark and of training")
    parser.add_argument("--epochs", type=int, default=15, help="most training epochs")
    args = parser.parse_args()
    data, out = args.dir / "synthetic", args.dir / "tagger"
    summary = generate(data, seed=args.seed)
    began = time.perf_counter()
    report = train_tagger(data, out, epochs=args.epochs, seed=args.seed)
    seconds = time.perf_counter() - began
    tagger = load_tagger(out)
    pretrained = load_pretrained()
    rows = label_dataset(data, "test")
    texts, gold = [text for _, text, _ in rows], [spans for _, _, spans in rows]
    lowered = [text.lower() for text in texts]
    assert all(len(a) == len(b) for a, b in zip(texts, lowered, strict=True)), "lower-casing moved characters"

    print(f"synthetic benchmark seed {args.seed}: {summary.captions} captions; train {report.counts}")
    print(f"training: {seconds:.1f} s, {report.epochs_run} epochs run, best epoch {report.best_epoch}")
    print(f"test split: {len(texts)} captions, {sum(len(s) for s in gold)} weak-label spans\n")
    print("| captions | method | precision | recall | F1 |")
    print("| --- | --- | --- | --- | --- |")
    methods: list[tuple[str, Tagger | None, object]] = [("rules", None, None), ("tagger", tagger, None)]
    if pretrained is not None:
        methods.append(("tagger + en_core_web_sm", tagger, pretrained))
    for label, captions in (("test, as written", texts), ("test, lower-cased", lowered)):
        for name, model, extra in methods:
            s = scores(captions, gold, model, extra)
            print(f"| {label} | {name} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
