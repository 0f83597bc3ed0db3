"""Reproduce the ablation and training-speed tables of docs/model.md.

    python scripts/ablations.py --out ablation-runs            # every row (about 20 min on 2 cores)
    python scripts/ablations.py --out ablation-runs --only full,no-ped

Each row trains recipes/demo-tiny.yaml with one component switched off (one --set each, as in
recipes/ablations.md), then reports the synthetic test split (metrics of the run, OCR as the
recipe trains: ground truth) and a held-out folder of unseen words read by the default OCR engine.
Finished runs are reused. Prints markdown tables; writes ablations.json beside the runs.
"""

from __future__ import annotations

import argparse
import json
import sys
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


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("ablation-runs"))
    parser.add_argument("--only", default="", help="comma-separated row keys (default: all rows and speed)")
    args = parser.parse_args(argv)
    from hopid.data.dataset import Dataset
    from hopid.data.synthetic.heldout import prepare_heldout, write_heldout_folder
    from hopid.eval.evaluate import evaluate
    from hopid.models.run import RunEncoder
    from hopid.train.loop import RUN_FILE, train
    from hopid.train.recipe import load_recipe

    args.out.mkdir(parents=True, exist_ok=True)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    dataset = Dataset.open(prepare_heldout(args.out, "heldout", write_heldout_folder))
    results: dict[str, dict] = {}
    for table, rows in (("ablation", ROWS), ("speed", SPEED)):
        for name, (recipe_name, overrides) in rows.items():
            if wanted and name not in wanted:
                continue
            run_dir = args.out / table / name.replace(" ", "-").replace("(", "").replace(")", "").replace(",", "")
            recipe = load_recipe(recipe_name, overrides)
            if not (run_dir / RUN_FILE).is_file():
                train(recipe, run_dir, resume=True)
            encoder = RunEncoder(run_dir)
            metrics = json.loads((run_dir / RUN_FILE).read_text())
            speed = metrics.get("train_samples_per_second")
            test = {r: v for r, v in _run_metrics(run_dir).items()}
            dense = evaluate(dataset, encoder, dense_only=True).metrics
            fused = evaluate(dataset, encoder).metrics
            results[name] = {
                "table": table,
                "sets": overrides,
                "recipe": recipe_name,
                "test_dense": test["dense"],
                "test_fused": test["fused"],
                "heldout_dense": dense,
                "heldout_fused": fused,
                "fusion_alpha": metrics["fusion_alpha"],
                "samples_per_second": speed,
            }
            print(f"{name}: held-out dense R@1 {dense['t2i_r1']:.3f} rsum {dense['rsum']:.1f}", file=sys.stderr)
    (args.out / "ablations.json").write_text(json.dumps(results, indent=2))
    print(
        "| model | test dense R@1 | test dense rSum | held-out dense R@1 | held-out dense rSum | held-out fused R@1 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        if r["table"] == "ablation":
            test, dense, fused = r["test_dense"], r["heldout_dense"], r["heldout_fused"]
            print(
                f"| {name} | {test['t2i_r1']:.3f} | {test['rsum']:.1f} | "
                f"{dense['t2i_r1']:.3f} | {dense['rsum']:.1f} | {fused['t2i_r1']:.3f} |"
            )
    print("\n| training | samples/s |\n| --- | ---: |")
    for name, r in results.items():
        if r["table"] == "speed" and r["samples_per_second"]:
            print(f"| {name} | {r['samples_per_second']:.0f} |")


def _run_metrics(run_dir: Path) -> dict[str, dict[str, float]]:
    from hopid.data.schema import read_table

    table = read_table(run_dir / "metrics.parquet", "metrics")
    out: dict[str, dict[str, float]] = {}
    for metric, model, value in table.select("metric", "model", "value").iter_rows():
        out.setdefault(model, {})[metric] = value
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
