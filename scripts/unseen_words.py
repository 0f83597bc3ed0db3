"""Does HOPID's network read words it has never seen? The table of docs/unseen-words.md.

    python scripts/unseen_words.py --seeds 0,1,2 --epochs 10                 # every row
    python scripts/unseen_words.py --only base,cliponly --seeds 0,1,2        # the recipe's epochs
    python scripts/unseen_words.py --only base --seeds 0 --epochs 10 --set model.spelling_dim=512

Each row trains recipes/demo-tiny.yaml (or the CLIP-only baseline) with its ``--set`` overrides
once per training seed, then scores the network alone (``--dense-only``) on three held-out sets
whose words training can never write, each prepared as a user would (`hopid prepare folder`) and
read by the default OCR engine (rapidocr): ``heldout`` (hopid.synthetic.heldout: the training
generator's drawings with another vocabulary), ``brands`` and ``signs``
(hopid.synthetic.heldout_styles: other drawings, fonts, layouts and vocabularies), plus the
synthetic test split (the run's own metrics, ground-truth OCR). Runs and sets are cached under
``--out`` (default ``unseen-runs/``, git-ignored) and reused; the runs of one seed share the
entity tagger of the first (``tagger.copy_from``), except rows trained on other captions
(``OWN_TAGGER``), which train their own. Prints a markdown table of mean ± std over the seeds
and writes ``unseen.json`` beside the runs (``--shape-rules-only``: the queries' entities without
the rare-word rule, figures in ``RUN/unseen-shape-rules.json``; ``--tagger-row``: whose taggers
the runs copy).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

from ablations import cell, parse_seeds

# row name -> (recipe, overrides); the rows before issue 18's re-spelling pin train.respell and
# train.gate_lr to what they trained with, so they stay what they were
BEFORE_RESPELL = ["train.respell=0", "train.gate_lr=null"]
ROWS: dict[str, tuple[str, list[str]]] = {
    "base": ("demo-tiny", ["model.spelling_channel=false", *BEFORE_RESPELL]),
    "cliponly": ("demo-tiny-cliponly", []),
    "no spelling sketch": ("demo-tiny", ["model.spelling_dim=0", "model.spelling_channel=false", *BEFORE_RESPELL]),
    "spelling channel": ("demo-tiny", BEFORE_RESPELL),
    # the training generator with look-alike variants and more caption templates, measured before
    # it landed as generator version 2 (docs/unseen-words.md); since then every row trains on it,
    # so this row is the same as "spelling channel" on a fresh --out
    "variety channel": ("demo-tiny", ["model.spelling_channel=true", *BEFORE_RESPELL]),
    # the gates at their own learning rate, words as written / re-spelt at the gates' old rate
    "gate lr": ("demo-tiny", ["train.respell=0"]),
    "respell": ("demo-tiny", ["train.gate_lr=null"]),
    "respell + gate lr 0.01": ("demo-tiny", ["train.gate_lr=0.01"]),
    "respell + gate lr": ("demo-tiny", []),  # the shipped recipe
    "respell + gate lr 0.1": ("demo-tiny", ["train.gate_lr=0.1"]),
}
# rows trained on other captions than the base row's: they train their own entity tagger
OWN_TAGGER = {"variety channel"}
SETS = ("heldout", "brands", "signs")
ORACLE_SETS = ("brands", "signs")  # also scored with a perfect tagger
COLUMNS = (("t2i_r1", "R@1", 3), ("rsum", "rSum", 1))


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")


def prepare_sets(root: Path) -> dict[str, object]:
    """The three held-out datasets, prepared (and OCR-read) once under ``root``."""
    from hopid.data.dataset import Dataset
    from hopid.synthetic.heldout import prepare_heldout, write_heldout_folder
    from hopid.synthetic.heldout_styles import brands_folder, signs_folder

    writers = {"heldout": write_heldout_folder, "brands": brands_folder, "signs": signs_folder}
    return {name: Dataset.open(prepare_heldout(root, name, writers[name])) for name in SETS}


def written_words(sets_root: Path, name: str) -> set[str]:
    """Every word (folded) written in a held-out set's images, from its source folder."""
    from hopid.data.schema import read_table
    from hopid.entities.text import fold

    source = sets_root / f"{name}-source"
    if (source / "words.csv").is_file():
        with open(source / "words.csv", newline="") as handle:
            lines = [row["text"] for row in csv.DictReader(handle)]
    else:
        lines = read_table(source / "ocr.parquet", "ocr")["text"].to_list()
    return {fold(w) for line in lines for w in line.replace("/", " ").split()}


def perfect_tagger(encoder, vocabulary: set[str]) -> None:
    """Make ``encoder`` take as entity words exactly the caption words written in the set's
    images: what the network scores with a perfect tagger (the "oracle words" column)."""
    from hopid.entities.text import fold
    from hopid.entities.types import Entity

    def entities(texts):
        return [
            [
                Entity(m.group(), m.start(), m.end(), 1.0, "tagger")
                for m in re.finditer(r"\w+", text)
                if fold(m.group()) in vocabulary
            ]
            for text in texts
        ]

    encoder.entities = entities


def run_figures(
    run_dir: Path, datasets: dict[str, object], oracle: bool = True, cache_name: str = "unseen.json"
) -> dict[str, dict[str, float]]:
    """Dense metrics of one run on every held-out set (with its own tagger, and with a perfect
    one: ``NAME oracle``) and its own synthetic test split; cached in ``run_dir/cache_name``."""
    from hopid.data.schema import read_table
    from hopid.eval.evaluate import evaluate
    from hopid.models.run import RunEncoder

    cache = run_dir / cache_name
    figures = json.loads(cache.read_text()) if cache.is_file() else {}
    for name, dataset in datasets.items():
        if name not in figures:
            metrics = evaluate(dataset, RunEncoder(run_dir), dense_only=True).metrics
            figures[name] = {key: metrics[key] for key, _, _ in COLUMNS}
        if oracle and name in ORACLE_SETS and f"{name} oracle" not in figures:
            encoder = RunEncoder(run_dir)
            if encoder.uses_entities:
                perfect_tagger(encoder, written_words(Path(dataset.root).parent, name))
            metrics = evaluate(dataset, encoder, dense_only=True).metrics
            figures[f"{name} oracle"] = {key: metrics[key] for key, _, _ in COLUMNS}
    table = read_table(run_dir / "metrics.parquet", "metrics")
    figures["test"] = {
        metric: value
        for metric, model, value in table.select("metric", "model", "value").iter_rows()
        if model == "dense" and metric in {key for key, _, _ in COLUMNS}
    }
    cache.write_text(json.dumps(figures, indent=2))
    return figures


def train_row(out: Path, name: str, seed: int, epochs: int | None, extra: list[str], taggers: dict) -> Path:
    """Train (or reuse) one row's run for ``seed``."""
    from hopid.train.loop import RUN_FILE, train
    from hopid.train.recipe import load_recipe

    recipe, overrides = ROWS.get(name, ("demo-tiny", []))
    run_dir = out / slug(name) / (f"seed{seed}" + (f"-epochs{epochs}" if epochs else ""))
    if not (run_dir / RUN_FILE).is_file():
        sets = [*overrides, *extra, f"train.seed={seed}"] + ([f"train.epochs={epochs}"] if epochs else [])
        if seed in taggers and name not in OWN_TAGGER:
            sets.append(f"tagger.copy_from={taggers[seed]}")
        train(load_recipe(recipe, sets), run_dir, resume=(run_dir / "checkpoints").is_dir())
    if name not in OWN_TAGGER:
        taggers.setdefault(seed, run_dir / "tagger")
    return run_dir


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("unseen-runs"))
    parser.add_argument("--only", default="", help="comma-separated row names (default: every row)")
    parser.add_argument("--name", default=None, help="a row name for --set overrides not in ROWS")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="recipe override for --name")
    parser.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="train every row this many epochs")
    parser.add_argument("--no-oracle", action="store_true", help="skip the perfect-tagger columns (faster)")
    parser.add_argument(
        "--shape-rules-only",
        action="store_true",
        help="query without the rare-word entity rule (figures in RUN/unseen-shape-rules.json)",
    )
    parser.add_argument("--tagger-row", default="base", help="the row whose runs train the taggers others copy")
    args = parser.parse_args(argv)
    cache_name = "unseen.json"
    if args.shape_rules_only:
        from hopid.entities import rules

        rules.is_rare = lambda word: False
        cache_name = "unseen-shape-rules.json"

    args.out.mkdir(parents=True, exist_ok=True)
    datasets = prepare_sets(args.out / "sets")
    rows = [r.strip() for r in args.only.split(",") if r.strip()] or list(ROWS)
    if args.name:
        rows.append(args.name)
    taggers: dict[int, Path] = {}
    for seed in args.seeds:  # the first run of each seed trains the tagger the others copy
        suffix = f"-epochs{args.epochs}" if args.epochs else ""
        first = args.out / slug(args.tagger_row) / f"seed{seed}{suffix}" / "tagger"
        if first.is_dir():
            taggers[seed] = first
    results: dict[str, dict[str, dict]] = {}
    for name in rows:
        extra = args.sets if name == args.name else []
        for seed in args.seeds:
            run_dir = train_row(args.out, name, seed, args.epochs, extra, taggers)
            figures = run_figures(run_dir, datasets, not args.no_oracle, cache_name)
            results.setdefault(name, {})[str(seed)] = figures
            shown = {s: round(f["t2i_r1"], 3) for s, f in results[name][str(seed)].items()}
            print(f"{name} seed {seed}: dense t2i R@1 {shown}", file=sys.stderr)
    meta = {"seeds": args.seeds, "epochs": args.epochs, "captions": {n: d.captions.height for n, d in datasets.items()}}
    (args.out / "unseen.json").write_text(json.dumps({"meta": meta, "rows": results}, indent=2))
    columns = [*SETS, *(f"{s} oracle" for s in ORACLE_SETS), "test"]
    head = [f"{s} {title}" for s in columns for _, title, _ in COLUMNS]
    print(
        f"seeds {args.seeds}, epochs {args.epochs or 'recipe'}; dense (network alone);",
        "OCR: rapidocr, test: ground truth",
    )
    print("| row | " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * len(head))
    for name, seeds in results.items():
        cells = [cell([f[s][key] for f in seeds.values() if s in f], dec) for s in columns for key, _, dec in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
