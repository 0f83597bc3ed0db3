"""How much the light tagger of the torch-free query path costs in retrieval.

Indexes a dataset split's images with a trained run, then answers every caption of the split
twice through :class:`hopid.search.searcher.Searcher`: with the run's full encoder (spaCy
tagger) and with the ONNX text side plus the light tagger, as ``hopid query`` does. Prints
text->image R@1/5/10 (fused, as the searcher ranks) for both, their word-level agreement, and
the ms per query of each.

    python scripts/light_tagger_recall.py RUN_DIR DATASET_DIR [--split test]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def recall(searcher, texts: list[str], truth: list[str], ks=(1, 5, 10)) -> tuple[dict[str, float], float]:
    ranks = []
    began = time.perf_counter()
    for text, path in zip(texts, truth, strict=True):
        hits = [Path(h.path).name for h in searcher.search(text, k=max(ks))]
        ranks.append(hits.index(path) if path in hits else max(ks))
    ms = (time.perf_counter() - began) * 1000 / len(texts)
    found = np.asarray(ranks)
    return {f"R@{k}": float((found < k).mean()) for k in ks}, ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()

    from hopid.data.dataset import Dataset
    from hopid.entities.light import LightTagger, agreement
    from hopid.index.build import build_index
    from hopid.models.run import RunEncoder
    from hopid.search.searcher import Searcher

    dataset = Dataset.open(args.dataset)
    images, captions = dataset.split(args.split)
    encoder = RunEncoder(args.run)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        name_of = {}
        for image_id, path in zip(images["image_id"].to_list(), images["path"].to_list(), strict=True):
            source = dataset.image_path(path)
            name_of[image_id] = f"{image_id}{source.suffix}"
            shutil.copyfile(source, folder / name_of[image_id])
        build_index(folder, encoder, index_dir=Path(tmp) / "index")
        texts = captions["text"].to_list()
        truth = [name_of[i] for i in captions["image_id"].to_list()]
        light = Searcher(Path(tmp) / "index")
        full = Searcher(Path(tmp) / "index", encoder=encoder)
        tagger_spans = [[e.span for e in found] for found in encoder.entities(texts)]
        light_tagger = LightTagger.load(args.run / "tagger" / "light.json")
        figures = {
            "captions": len(texts),
            "images": len(name_of),
            "light_encoder": type(light.encoder).__name__,
            "agreement_with_tagger": agreement(light_tagger, texts, tagger_spans),
        }
        for name, searcher in (("full", full), ("light", light)):
            figures[name], figures[f"{name}_ms_per_query"] = recall(searcher, texts, truth)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
