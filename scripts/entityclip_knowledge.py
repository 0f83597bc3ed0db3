"""Do EntityCLIP explanations that carry knowledge help where the brand name cannot? (docs/entityclip.md)

    python scripts/entityclip_knowledge.py --out entityclip-slogan-runs --seeds 0,1,2
    python scripts/entityclip_knowledge.py --out entityclip-slogan-runs --seeds 0 --only knowledge \
        --set model.explained_words=false --tag no-explained-words

The identity benchmark with ``data.synthetic.logo_only_views=1``: in one view of each brand the
name is not written; only the brand's logo and, with slogans (the recipe's default; ``--slogans``
or ``--no-slogans`` to choose), its slogan tell it. Rows train recipes/demo-tiny-entityclip.yaml
on those data: with ``loss.explained=1.0`` on knowledge explanations (they state the logo and
the slogan) or template ones (only the kind of brand), and a baseline without explanation
experts. Each run is evaluated on a held-out identity set made the same way (held-out
vocabulary, 30 brands x 4 views, one name-less view each, 360 captions, a quarter naming no
brand; folder + captions.csv, OCR by the default engine) by the identity protocol, dense only,
with the held-out captions' explanations of the row's kind through the run's text experts
(``explained``; for a run with ``model.explained_words`` also without the explanation's words,
``explained_no_words``) and without them (``plain``), and fused with them. The runs of one seed
share the entity tagger the first of them trained. Two diagnostics for the view without the
name: the rank of each brand-naming query's name-less view (``logo_only``) and a
nearest-neighbour probe of whether the image vectors carry the logo at all (``logo_probe``).
``--logo-only`` changes the training data only; ``--set`` adds overrides to the explanation
rows; ``--epochs`` defaults to 10. Finished runs are reused. Prints a markdown table of mean ±
std over the seeds with each row's explained dense mAP against the template row's and against
its own plain queries (``~``: within noise); writes entityclip_knowledge[-TAG].json beside the
runs (docs/entityclip.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
from ablations import cell, parse_seeds, within_noise
from identity_ablations import EXPLAINED, METRICS, run_dir_of

RECIPE = "demo-tiny-entityclip"


def rows(
    logo_only_views: int, extra: list[str], slogans: bool | None = None
) -> dict[str, tuple[list[str], str | None]]:
    """row: (--set overrides, explanations the queries carry: None (plain queries only) or the
    kind); ``extra`` goes to the explanation rows only, ``slogans`` (None: the recipe's) to all."""
    logo = [f"data.synthetic.logo_only_views={logo_only_views}"]
    logo += [] if slogans is None else [f"data.synthetic.slogans={str(slogans).lower()}"]
    return {
        "knowledge": ([*logo, *EXPLAINED, *extra], "knowledge"),
        "template": ([*logo, "data.synthetic.explanations=template", *EXPLAINED, *extra], "template"),
        "baseline": ([*logo, "model.explanation_experts=false"], None),
    }


TITLES = {
    "knowledge": "+ explanations (knowledge)",
    "template": "+ explanations (template)",
    "baseline": "baseline (no explanation experts)",
}
EPOCHS = 10


def heldout_name(kind: str, slogans: bool = False) -> str:
    return f"heldout-identities-logo1-{'slogans-' if slogans else ''}{kind}"


def evaluate_run(run_dir: Path, dataset, explained: bool) -> dict:
    """One run's held-out figures: dense plain, and dense and fused explained (when ``explained``),
    and for a run trained with ``model.explained_words`` the dense explained also without the
    explanation's entity words (``explained_no_words``)."""
    from hopid.eval.evaluate import evaluate
    from hopid.models.run import RunEncoder

    encoder = RunEncoder(run_dir)
    figures = {"plain": evaluate(dataset, encoder, dense_only=True).metrics}
    if explained:
        figures["explained"] = evaluate(dataset, encoder, dense_only=True, explained=True).metrics
        figures["fused_explained"] = evaluate(dataset, encoder, explained=True).metrics
        if encoder.config.explained_words:
            without = RunEncoder(run_dir)
            without.encode_explained = partial(without.encode_explained, explained_words=False)
            figures["explained_no_words"] = evaluate(dataset, without, dense_only=True, explained=True).metrics
    else:
        figures["fused"] = evaluate(dataset, encoder).metrics
    images = dataset.split("test")[0]
    vectors = image_vectors(encoder, dataset, images)
    figures["logo_only"] = logo_only_reach(encoder, dataset, vectors, explained)
    figures["logo_probe"] = logo_probe(vectors, images)
    return figures


def image_vectors(encoder, dataset, images: pl.DataFrame) -> np.ndarray:
    """The run's held-out image vectors V (scene text read by the default OCR engine)."""
    from hopid.data.error_log import ErrorLog
    from hopid.eval.evaluate import embed_images

    ocr = dataset.ocr(dataset.ocr_engine(None)) if encoder.needs_ocr else None
    return embed_images(encoder, dataset, images, ErrorLog("eval"), None, ocr=ocr)


def logo_probe(vectors: np.ndarray, images: pl.DataFrame, k: int = 5) -> dict[str, float]:
    """Whether V encodes the logo at all: how often the majority logo colour (shape) of an
    image's ``k`` nearest images of *other* brands is its own (chance: 1/6 each)."""
    from hopid.synthetic.heldout import HELDOUT_SEED
    from hopid.synthetic.identities import brand_facts

    brands = np.asarray(images["object_id"].to_list())
    facts = [brand_facts(HELDOUT_SEED, int(b.removeprefix("brand-"))) for b in brands]
    similarity = vectors @ vectors.T
    similarity[brands[:, None] == brands[None, :]] = -np.inf  # its own brand's views (and itself) left out
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    accuracy = {}
    for name, labels in (("colour", [f.logo_color for f in facts]), ("shape", [f.logo_shape for f in facts])):
        labels = np.asarray(labels)
        votes = [max(set(row), key=list(row).count) for row in labels[nearest].tolist()]
        accuracy[name] = float(np.mean(np.asarray(votes) == labels))
    return accuracy


def logo_only_reach(encoder, dataset, vectors: np.ndarray, explained: bool) -> dict[str, dict[str, float]]:
    """How the dense queries that name their brand (and carry an explanation) rank their brand's
    logo-only view, when it is not their own picture: mean reciprocal rank and R@10 over the
    held-out images (``vectors``), with plain queries and (``explained``) explained ones. Only
    the logo can find that view (chance: MRR 0.045, R@10 0.083 over 120 images)."""
    from hopid.synthetic.heldout import HELDOUT_SEED
    from hopid.synthetic.identities import logo_only

    images, captions = dataset.split("test")
    row_of = {image_id: row for row, image_id in enumerate(images["image_id"].to_list())}
    views = images.group_by("object_id").len()["len"].max()
    hidden = {}
    for object_id in images["object_id"].unique().to_list():
        (view,) = logo_only(HELDOUT_SEED, int(object_id.removeprefix("brand-")), views, 1)
        hidden[object_id] = row_of[f"{object_id}-v{view}.png"]
    picked = captions.join(images.select("image_id", "object_id"), on="image_id").filter(
        pl.col("explanation").fill_null("") != ""
    )
    targets = np.array([hidden[o] for o in picked["object_id"].to_list()])
    keep = targets != np.array([row_of[i] for i in picked["image_id"].to_list()])
    texts, given = picked["text"].to_list(), picked["explanation"].to_list()
    queries = {"plain": encoder.encode_texts(texts)}
    if explained:
        queries["explained"] = encoder.encode_explained(texts, given)
    reach = {}
    for kind, query in queries.items():
        scores = (query @ vectors.T)[keep]
        target = scores[np.arange(len(scores)), targets[keep]]
        ranks = 1 + (scores > target[:, None]).sum(axis=1)
        reach[kind] = {"mrr": float(np.mean(1 / ranks)), "r10": float(np.mean(ranks <= 10)), "queries": int(keep.sum())}
    return reach


def delta(values: list[float], reference: list[float], quantum: float) -> str:
    """Mean difference, ``~`` when within noise; ``—`` without both."""
    if not values or not reference:
        return "—"
    noise = "~" if within_noise(values, reference, quantum) else ""
    return f"{noise}{statistics.fmean(values) - statistics.fmean(reference):+.3f}"


def table(results: dict[str, dict], quantum: float) -> list[str]:
    """Markdown lines: dense Rank-1, mAP, mINP of the explained and plain queries (mean ± std),
    the explained dense mAP without the explanation's words (``—`` unless the run takes them),
    and the explained dense mAP against the template row's and against the row's plain queries."""
    titles = [f"dense {m} ({q})" for q in ("explained", "plain") for m in ("Rank-1", "mAP", "mINP")]
    titles.append("dense mAP (explained, no words)")
    lines = [
        "| model | " + " | ".join(titles) + " | Δ mAP vs template | Δ mAP vs plain |",
        "| --- |" + " ---: |" * 9,
    ]
    template = [r["explained"]["map"] for r in results.get("template", {}).get("seeds", {}).values()]
    for name, row in results.items():
        runs = list(row["seeds"].values())
        cells = [cell([r[q][m] for r in runs if q in r], 3) for q in ("explained", "plain") for m in METRICS]
        cells.append(cell([r["explained_no_words"]["map"] for r in runs if "explained_no_words" in r], 3))
        mine = [r["explained"]["map"] for r in runs if "explained" in r]
        plain = [r["plain"]["map"] for r in runs]
        versus_template = delta(mine, template, quantum) if name != "template" else "—"
        versus_plain = delta(mine, plain, quantum)
        lines.append(f"| {TITLES[name]} | " + " | ".join([*cells, versus_template, versus_plain]) + " |")
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("entityclip-runs"))
    parser.add_argument("--seeds", type=parse_seeds, default=[0], help="training seeds, e.g. 0,1,2 (default 0)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="train every run this many epochs")
    parser.add_argument("--logo-only", type=int, default=1, help="training views per brand without its name")
    parser.add_argument("--set", action="append", default=[], help="a recipe override for the explanation rows")
    parser.add_argument("--tag", default="", help="the results file's suffix (default: from --epochs and --logo-only)")
    parser.add_argument(
        "--slogans",
        action=argparse.BooleanOptionalAction,
        help="brands have slogans, in training and held out (default: as the recipe says)",
    )
    parser.add_argument("--only", default="", help="comma-separated rows: knowledge, template, baseline (default all)")
    args = parser.parse_args(argv)
    from hopid.data.dataset import Dataset
    from hopid.synthetic.heldout import prepare_heldout, write_heldout_identities
    from hopid.train.loop import RUN_FILE, train
    from hopid.train.recipe import load_recipe

    args.out.mkdir(parents=True, exist_ok=True)
    recipe_slogans = bool(load_recipe(RECIPE)["data"]["synthetic"]["slogans"])
    given_slogans, args.slogans = args.slogans, recipe_slogans if args.slogans is None else args.slogans
    write = partial(write_heldout_identities, logo_only_views=1, slogans=args.slogans)
    datasets = {
        kind: Dataset.open(
            prepare_heldout(args.out, heldout_name(kind, args.slogans), partial(write, explanations=kind))
        )
        for kind in ("knowledge", "template")
    }
    table_rows = rows(args.logo_only, args.set, given_slogans)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()] or list(table_rows)
    suffix = "" if (args.epochs, args.logo_only) == (EPOCHS, 1) else f"-epochs{args.epochs}-logo{args.logo_only}"
    suffix = f"-{args.tag}" if args.tag else suffix
    saved = args.out / f"entityclip_knowledge{suffix}.json"
    results: dict[str, dict] = json.loads(saved.read_text())["rows"] if saved.is_file() else {}
    taggers: dict[int, Path] = {}
    for name in wanted:
        overrides, explained = table_rows[name]
        row = results.setdefault(name, {"recipe": RECIPE, "sets": overrides, "explained": explained, "seeds": {}})
        for seed in args.seeds:
            run_dir = run_dir_of(args.out, RECIPE, overrides, seed, args.epochs)
            if not (run_dir / RUN_FILE).is_file():
                sets = [*overrides, f"train.seed={seed}", f"train.epochs={args.epochs}"]
                tagger = taggers.get(seed) or _trained_tagger(args.out, seed, args.epochs, table_rows)
                copy = [f"tagger.copy_from={tagger}"] if tagger else []
                train(load_recipe(RECIPE, sets + copy), run_dir, resume=True)
            taggers.setdefault(seed, run_dir / "tagger")
            row["seeds"][str(seed)] = evaluate_run(run_dir, datasets[explained or "knowledge"], bool(explained))
            figures = row["seeds"][str(seed)]
            shown = ", ".join(f"{q} dense mAP {figures[q]['map']:.3f}" for q in ("explained", "plain") if q in figures)
            print(f"{name} seed {seed}: {shown}", file=sys.stderr)
            saved.write_text(json.dumps({"meta": {"epochs": args.epochs}, "rows": results}, indent=2))
    queries = datasets["knowledge"].split("test")[1].height
    meta = {"seeds": sorted({int(s) for r in results.values() for s in r["seeds"]}), "epochs": args.epochs}
    saved.write_text(json.dumps({"meta": meta | {"queries": queries}, "rows": results}, indent=2))
    print(f"epochs {args.epochs}; {queries} queries (one query = {1 / queries:.4f})")
    print("\n".join(table(results, 1 / queries)))


def _trained_tagger(out: Path, seed: int, epochs: int, table_rows: dict) -> Path | None:
    """A tagger an earlier run of this seed trained (any row: the same captions and OCR)."""
    from hopid.entities.tagger import INFO_FILE

    for overrides, _ in table_rows.values():
        tagger = run_dir_of(out, RECIPE, overrides, seed, epochs) / "tagger"
        if (tagger / INFO_FILE).is_file():
            return tagger
    return None


if __name__ == "__main__":
    main(sys.argv[1:])
