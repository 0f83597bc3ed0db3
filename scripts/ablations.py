"""Reproduce the ablation and training-speed tables of docs/model.md.

    python scripts/ablations.py --out ablation-runs --seeds 0,1,2     # every row, three seeds
    python scripts/ablations.py --out ablation-runs --only "full,no PED" --seeds 0
    python scripts/ablations.py --out ablation-runs --seeds 0,1,2 --epochs 15 --tables ablation

Each row trains recipes/demo-tiny.yaml with one component switched off (one --set each, as in
recipes/ablations.md) once per training seed (``train.seed``; the data are the same), then
reports the synthetic test split (metrics of the run, OCR as the recipe trains: ground truth)
and the held-out folder (hopid.synthetic.heldout: words training never writes) read by the
default OCR engine. The runs of one seed share the entity tagger the first of them trained
(``tagger.copy_from``: the tagger depends only on the data and the seed, so this is what each
run would train itself). ``--epochs`` shortens every run (say so when quoting the figures).
Finished runs are reused. Prints markdown tables of mean ± std over the seeds, each row's
difference to the full model and whether it is within noise; writes ablations.json beside the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROWS: dict[str, tuple[str, list[str]]] = {
    "full": ("demo-tiny", []),
    "clip-only baseline": ("demo-tiny-cliponly", []),
    "no visual prompt": ("demo-tiny", ["model.visual_prompt=false"]),
    "no OCR entities (and no PED)": ("demo-tiny", ["model.ocr_entities=false"]),
    "no box geometry": ("demo-tiny", ["model.ocr_geometry=false"]),
    "with box appearance": ("demo-tiny", ["model.ocr_appearance=true"]),
    "no PED (mean of X_ocr)": ("demo-tiny", ["model.distill=false"]),
    "no local fusion": ("demo-tiny", ["model.local_fusion=false"]),
    "no text prompt": ("demo-tiny", ["model.text_prompt=false"]),
    "no entity words": ("demo-tiny", ["model.entity_words=false"]),
    "no spelling sketch": ("demo-tiny", ["model.spelling_dim=0"]),
    "sum fusion (no scene-text subspace)": ("demo-tiny", ["model.fusion=sum"]),
    "no OCR noise": ("demo-tiny", ["ocr_noise.drop=0", "ocr_noise.misspell=0", "ocr_noise.merge=0"]),
    "triplet loss only": ("demo-tiny", ["loss.infonce=0"]),
}
SPEED: dict[str, tuple[str, list[str]]] = {
    "HOPID, towers trained": ("demo-tiny", ["train.epochs=3"]),
    "CLIP-only, towers trained": ("demo-tiny-cliponly", ["train.epochs=3"]),
    "HOPID, frozen towers, cached": (
        "demo-tiny",
        ["train.epochs=3", "model.freeze_image=true", "model.freeze_text=true"],
    ),
    "HOPID, frozen towers, uncached": (
        "demo-tiny",
        ["train.epochs=3", "model.freeze_image=true", "model.freeze_text=true", "train.cache_frozen=false"],
    ),
}
# (result key, metric, column title, decimals)
COLUMNS = (
    ("test_dense", "t2i_r1", "test dense R@1", 3),
    ("test_dense", "rsum", "test dense rSum", 1),
    ("heldout_dense", "t2i_r1", "held-out dense R@1", 3),
    ("heldout_dense", "rsum", "held-out dense rSum", 1),
    ("heldout_fused", "t2i_r1", "held-out fused R@1", 3),
)


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``."""
    seeds = [int(s) for s in text.split(",") if s.strip()]
    if not seeds:
        raise argparse.ArgumentTypeError("--seeds needs at least one seed")
    return seeds


def slug(name: str) -> str:
    """A row name as a directory name."""
    return name.replace(" ", "-").replace("(", "").replace(")", "").replace(",", "")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def within_noise(row: Sequence[float], reference: Sequence[float], quantum: float) -> bool:
    """Whether the mean difference of ``row`` to ``reference`` is noise: smaller than the larger
    of the two seed-to-seed standard deviations, or than two units of ``quantum`` (two captions)."""
    (m_row, s_row), (m_ref, s_ref) = mean_std(row), mean_std(reference)
    return abs(m_row - m_ref) < max(s_row, s_ref, 2 * quantum)


def cell(values: Sequence[float], decimals: int) -> str:
    """``mean ± std`` of ``values``, the value alone for one, ``—`` for none."""
    if not values:
        return "—"
    mean, std = mean_std(values)
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}" if len(values) > 1 else f"{mean:.{decimals}f}"


def summary_table(results: dict[str, dict], quanta: dict[str, float]) -> list[str]:
    """Markdown lines: mean ± std of every column, then the difference of each row's held-out
    and test dense R@1 to the full model's (``~`` marks differences within noise)."""
    names = [n for n, r in results.items() if r["table"] == "ablation"]
    lines = [
        "| model | " + " | ".join(c[2] for c in COLUMNS) + " | Δ test R@1 | Δ held-out R@1 |",
        "| --- |" + " ---: |" * (len(COLUMNS) + 2),
    ]
    full = results.get("full")
    for name in names:
        runs = results[name]["seeds"]
        cells = [cell([r[key][metric] for r in runs.values()], dec) for key, metric, _, dec in COLUMNS]
        deltas = []
        for key in ("test_dense", "heldout_dense"):
            if full is None or name == "full":
                deltas.append("—")
                continue
            row = [r[key]["t2i_r1"] for r in runs.values()]
            ref = [r[key]["t2i_r1"] for r in full["seeds"].values()]
            noise = "~" if within_noise(row, ref, quanta[key]) else ""
            deltas.append(f"{noise}{statistics.fmean(row) - statistics.fmean(ref):+.3f}")
        lines.append(f"| {name} | " + " | ".join(cells + deltas) + " |")
    return lines


def evaluate_run(run_dir: Path, dataset) -> dict:
    """One run's figures: its own test metrics and the held-out folder's, dense and fused."""
    from hopid.eval.evaluate import evaluate
    from hopid.models.run import RunEncoder
    from hopid.train.loop import RUN_FILE

    encoder = RunEncoder(run_dir)
    info = json.loads((run_dir / RUN_FILE).read_text())
    test = _run_metrics(run_dir)
    return {
        "test_dense": test["dense"],
        "test_fused": test["fused"],
        "heldout_dense": evaluate(dataset, encoder, dense_only=True).metrics,
        "heldout_fused": evaluate(dataset, encoder).metrics,
        "fusion_alpha": info["fusion_alpha"],
        "samples_per_second": info.get("train_samples_per_second"),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("ablation-runs"))
    parser.add_argument(
        "--only", default="", help="comma-separated row names or their beginnings (default: all rows and speed)"
    )
    parser.add_argument("--seeds", type=parse_seeds, default=[0], help="training seeds, e.g. 0,1,2 (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="train every ablation row this many epochs")
    parser.add_argument("--tables", default="ablation,speed", help="ablation, speed or both (default)")
    args = parser.parse_args(argv)
    from hopid.data.dataset import Dataset
    from hopid.synthetic.heldout import prepare_heldout, write_heldout_folder
    from hopid.train.loop import RUN_FILE, train
    from hopid.train.recipe import load_recipe

    args.out.mkdir(parents=True, exist_ok=True)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    tables = {"ablation": ROWS, "speed": SPEED}
    dataset = Dataset.open(prepare_heldout(args.out, "heldout", write_heldout_folder))
    results: dict[str, dict] = {}
    taggers: dict[int, Path] = {}
    for table in [t.strip() for t in args.tables.split(",") if t.strip()]:
        for name, (recipe_name, overrides) in tables[table].items():
            if wanted and not name.startswith(tuple(wanted)):
                continue
            entry = results.setdefault(name, {"table": table, "sets": overrides, "recipe": recipe_name, "seeds": {}})
            for seed in args.seeds if table == "ablation" else args.seeds[:1]:
                run_dir = args.out / table / slug(name) / f"seed{seed}"
                sets = [*overrides, f"train.seed={seed}"]
                if args.epochs is not None and table == "ablation":
                    sets.append(f"train.epochs={args.epochs}")
                    run_dir = run_dir.with_name(f"{run_dir.name}-epochs{args.epochs}")
                if not (run_dir / RUN_FILE).is_file():
                    copy = [f"tagger.copy_from={taggers[seed]}"] if seed in taggers else []
                    train(load_recipe(recipe_name, sets + copy), run_dir, resume=True)
                taggers.setdefault(seed, run_dir / "tagger")
                entry["seeds"][str(seed)] = evaluate_run(run_dir, dataset)
                r1 = entry["seeds"][str(seed)]["heldout_dense"]["t2i_r1"]
                print(f"{name} seed {seed}: held-out dense R@1 {r1:.3f}", file=sys.stderr)
    quanta = {"test_dense": 1 / test_captions(), "heldout_dense": 1 / dataset.split("test")[1].height}
    meta = {"seeds": args.seeds, "epochs": args.epochs, "one_caption": quanta}
    (args.out / "ablations.json").write_text(json.dumps({"meta": meta, "rows": results}, indent=2))
    print(f"seeds {args.seeds}; one caption = {quanta['test_dense']:.4f} test, {quanta['heldout_dense']:.4f} held-out")
    print("\n".join(summary_table(results, quanta)))
    print("\n| training | samples/s |\n| --- | ---: |")
    for name, r in results.items():
        for run in r["seeds"].values():
            if r["table"] == "speed" and run["samples_per_second"]:
                print(f"| {name} | {run['samples_per_second']:.0f} |")


def test_captions(recipe_name: str = "demo-tiny") -> int:
    """How many captions the recipe's synthetic test split has (the runs' *test* columns)."""
    from hopid.data.dataset import Dataset
    from hopid.train.loop import synthetic_cache_dir
    from hopid.train.recipe import load_recipe

    root = synthetic_cache_dir(load_recipe(recipe_name)["data"]["synthetic"])
    return Dataset.open(root).split("test")[1].height


def _run_metrics(run_dir: Path) -> dict[str, dict[str, float]]:
    from hopid.data.schema import read_table

    table = read_table(run_dir / "metrics.parquet", "metrics")
    out: dict[str, dict[str, float]] = {}
    for metric, model, value in table.select("metric", "model", "value").iter_rows():
        out.setdefault(model, {})[metric] = value
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
