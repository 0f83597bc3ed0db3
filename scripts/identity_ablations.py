"""Reproduce the MMRef / EntityCLIP ablation table of docs/model.md (synthetic identity benchmark).

    python scripts/identity_ablations.py --out identity-runs --seeds 0,1,2
    python scripts/identity_ablations.py --out identity-runs --seeds 0,1,2 --epochs 10 --only "all together"
    python scripts/identity_ablations.py --out identity-runs --seeds 0,1,2 --epochs 10 \
        --only "baseline,+ explanations (knowledge),+ explanations (template)"
    python scripts/identity_ablations.py --out identity-runs --seeds 0,1,2 --epochs 10 --only "baseline,+ MMRef"

Rows train recipes/demo-tiny-mmref.yaml and demo-tiny-entityclip.yaml with parts switched on or
off, once per training seed (``train.seed``; the data are the same), and evaluate on a held-out
identity set (30 brands x 4 views from the held-out vocabulary, 360 captions, a quarter naming
no brand; folder + captions.csv, OCR by the default engine) by the identity protocol, dense
only and fused, with and without reference re-ranking (a re-ranking row also records the same
runs without it, ``dense_plain`` and ``fused_plain``, and prints its gain paired by seed). The
explanation rows query with the held-out captions' explanations (knowledge: the brand's logo,
which no caption names; template: what kind of brand it is) through the run's EntityCLIP text
experts, and also record the same run queried without them (``dense_plain``). The runs of one
seed share the entity tagger the first of them trained (it depends only on the data and the
seed). ``--epochs`` shortens every run; ``--set`` adds an override to every row. Finished runs
are reused. Prints a markdown table of mean ± std over the seeds with each row's dense mAP and
Rank-1 difference to the baseline (``~``: within noise, as in scripts/ablations.py); writes
identity_ablations.json beside the runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from functools import partial
from pathlib import Path

from ablations import cell, parse_seeds, within_noise

# row: (recipe, --set overrides, re-rank by references, explanations the queries carry: None (plain
# dual-encoder queries), "knowledge" or "template" (the held-out captions' explanation column of
# that kind; the run trained on the same kind))
EXPLAINED = ["loss.explained=1.0"]
# MMRef's re-ranking as it was before issue 18: candidates compared with the caption's own profile
CAPTION_ONLY = ["eval.rerank_queries=[caption]", "eval.rerank_betas=[0.0,0.1,0.2,0.3,0.5,1.0,2.0]"]
ROWS: dict[str, tuple[str, list[str], bool, str | None]] = {
    "baseline (HOPID, no MMRef/EntityCLIP)": ("demo-tiny-mmref", ["model.mmref=false"], False, None),
    "+ MMRef losses": ("demo-tiny-mmref", [], False, None),
    "+ MMRef losses + refinement": ("demo-tiny-mmref", [], True, None),
    "+ MMRef losses + refinement (caption profile only)": ("demo-tiny-mmref", CAPTION_ONLY, True, None),
    "+ MMRef losses (guided loss 0.5) + refinement": ("demo-tiny-mmref", ["loss.reference_guided=0.5"], True, None),
    "+ MMRef losses (guided loss 2.0) + refinement": ("demo-tiny-mmref", ["loss.reference_guided=2.0"], True, None),
    "+ explanations (EntityCLIP, training only)": ("demo-tiny-entityclip", [], False, None),
    "+ explanations (knowledge)": ("demo-tiny-entityclip", EXPLAINED, False, "knowledge"),
    "+ explanations (template)": (
        "demo-tiny-entityclip",
        ["data.synthetic.explanations=template", *EXPLAINED],
        False,
        "template",
    ),
    "all together": ("demo-tiny-mmref", ["model.explanation_experts=true"], True, None),
}
BASELINE = "baseline (HOPID, no MMRef/EntityCLIP)"
METRICS = ("rank1", "map", "minp")


NAME_LIMIT = 240  # characters of a run folder's name (file systems allow 255)


def run_dir_of(out: Path, recipe_name: str, overrides: list[str], seed: int, epochs: int | None) -> Path:
    """Where one row's run for one seed lives (rows differing only in re-ranking share it); a
    name too long for a folder keeps its start and gets a hash of the whole."""
    name = "-".join([recipe_name, *overrides]).replace("=", "_")
    if len(name) > NAME_LIMIT:
        name = name[: NAME_LIMIT - 13] + "-" + hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    return out / name / (f"seed{seed}" + (f"-epochs{epochs}" if epochs is not None else ""))


def table(results: dict[str, dict], quantum: float) -> list[str]:
    """Markdown lines: mean ± std of every metric, dense and fused, and each row's dense mAP
    and Rank-1 difference to the baseline (``~``: within noise)."""
    titles = [f"{kind} {m}" for kind in ("dense", "fused") for m in ("Rank-1", "mAP", "mINP")]
    lines = ["| model | " + " | ".join(titles) + " | Δ dense Rank-1 | Δ dense mAP |", "| --- |" + " ---: |" * 8]
    base = results.get(BASELINE)
    for name, row in results.items():
        runs = list(row["seeds"].values())
        cells = [cell([r[kind][m] for r in runs], 3) for kind in ("dense", "fused") for m in METRICS]
        for metric in ("rank1", "map"):
            if base is None or name == BASELINE:
                cells.append("—")
                continue
            values = [r["dense"][metric] for r in runs]
            reference = [r["dense"][metric] for r in base["seeds"].values()]
            noise = "~" if within_noise(values, reference, quantum) else ""
            cells.append(f"{noise}{statistics.fmean(values) - statistics.fmean(reference):+.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def reranking_gains(results: dict[str, dict]) -> list[str]:
    """Each re-ranking row's gain over the same runs without re-ranking (paired by seed)."""
    lines = []
    for name, row in results.items():
        runs = [r for r in row["seeds"].values() if "fused_plain" in r]
        if not row["rerank"] or not runs:
            continue
        gains = [
            f"{kind} {m} {cell([r[kind][m] - r[f'{kind}_plain'][m] for r in runs], 3)}"
            for kind in ("dense", "fused")
            for m in ("map", "rank1")
        ]
        chosen = "; ".join(json.dumps(r["rerank"]) for r in runs)
        lines.append(f"{name}: re-ranking gains {', '.join(gains)} (chosen on val: {chosen})")
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("identity-runs"))
    parser.add_argument("--seeds", type=parse_seeds, default=[0], help="training seeds, e.g. 0,1,2 (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="train every run this many epochs")
    parser.add_argument("--only", default="", help="comma-separated row names or their beginnings (default: all rows)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="a recipe override added to every row")
    args = parser.parse_args(argv)
    from hopid.data.dataset import Dataset
    from hopid.eval.evaluate import evaluate
    from hopid.models.run import RunEncoder
    from hopid.synthetic.heldout import prepare_heldout, write_heldout_identities
    from hopid.train.loop import RUN_FILE, train
    from hopid.train.recipe import load_recipe

    args.out.mkdir(parents=True, exist_ok=True)
    datasets = {
        kind: Dataset.open(
            prepare_heldout(
                args.out, f"heldout-identities-{kind}", partial(write_heldout_identities, explanations=kind)
            )
        )
        for kind in ("knowledge", "template")
    }
    results: dict[str, dict] = {}
    taggers: dict[int, Path] = {}
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    for name, (recipe_name, overrides, rerank, explained) in ROWS.items():
        if wanted and not name.startswith(tuple(wanted)):
            continue
        overrides = [*overrides, *args.sets]
        dataset = datasets[explained or "knowledge"]  # the same images and captions; explanations differ
        row = results.setdefault(
            name, {"recipe": recipe_name, "sets": overrides, "rerank": rerank, "explained": explained, "seeds": {}}
        )
        for seed in args.seeds:
            run_dir = run_dir_of(args.out, recipe_name, overrides, seed, args.epochs)
            sets = [*overrides, f"train.seed={seed}"] + ([f"train.epochs={args.epochs}"] if args.epochs else [])
            if not (run_dir / RUN_FILE).is_file():
                copy = [f"tagger.copy_from={taggers[seed]}"] if seed in taggers else []
                train(load_recipe(recipe_name, sets + copy), run_dir, resume=True)
            taggers.setdefault(seed, run_dir / "tagger")
            encoder = RunEncoder(run_dir)
            method = "reference" if rerank else None
            row["seeds"][str(seed)] = {
                "rerank": encoder.rerank_defaults if rerank else None,
                "dense": evaluate(dataset, encoder, dense_only=True, rerank=method, explained=bool(explained)).metrics,
                "fused": evaluate(dataset, encoder, rerank=method, explained=bool(explained)).metrics,
            }
            if explained or rerank:  # the same run queried without explanations or without re-ranking
                row["seeds"][str(seed)]["dense_plain"] = evaluate(dataset, encoder, dense_only=True).metrics
            if rerank:
                row["seeds"][str(seed)]["fused_plain"] = evaluate(dataset, encoder).metrics
            print(f"{name} seed {seed}: dense mAP {row['seeds'][str(seed)]['dense']['map']:.3f}", file=sys.stderr)
    queries = datasets["knowledge"].split("test")[1].height
    meta = {"seeds": args.seeds, "epochs": args.epochs, "queries": queries}
    (args.out / "identity_ablations.json").write_text(json.dumps({"meta": meta, "rows": results}, indent=2))
    print(f"seeds {args.seeds}; {queries} queries (one query = {1 / queries:.4f})")
    print("\n".join(table(results, 1 / queries)))
    print("\n".join(reranking_gains(results)))


if __name__ == "__main__":
    main(sys.argv[1:])
