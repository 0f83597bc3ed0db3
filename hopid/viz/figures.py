"""The demo's pictures: one call writes every kind of picture for a trained HOPID, its
CLIP-only baseline and an index, so ``hopid demo`` ends with them."""

from __future__ import annotations

from pathlib import Path

from hopid.data.dataset import Dataset
from hopid.errors import HopidError
from hopid.viz.attention import attention_figure
from hopid.viz.canvas import open_image
from hopid.viz.retrieval import rank_split, retrieval_figures
from hopid.viz.sheets import contact_sheet, hits_html
from hopid.viz.tsne import tsne_figure


def demo_figures(
    dataset: Dataset, hopid, baseline, searcher, query: str, out_dir: str | Path, *, seed: int = 0
) -> dict[str, Path]:
    """Write the contact sheet and HTML page of ``query``, retrieval examples of the test split
    (three rows each way), the t-SNE of HOPID beside ``baseline`` and the attention map of one
    test image with scene text into ``out_dir``; returns ``{what: path}``."""
    out_dir = Path(out_dir)
    hits = searcher.search(query, 5)
    words = searcher.hit_words(hits)
    title = f"results for {query!r}"
    written = {
        "query contact sheet": contact_sheet(hits, words, out_dir / "query.png", title),
        "query HTML page": hits_html(hits, words, out_dir / "query.html", title),
    }
    ranked = rank_split(dataset, hopid, "test")
    for path in retrieval_figures(ranked, out_dir, n=3, k=5, seed=seed):
        written[f"retrieval {path.stem}"] = path
    written["t-SNE"] = tsne_figure(
        dataset,
        [("HOPID", hopid), ("CLIP-only baseline", baseline)],
        out_dir / "tsne.png",
        groups=6,
        max_points=200,
        seed=seed,
    )
    images = ranked.embedded.images
    ocr = ranked.embedded.ocr if ranked.embedded.ocr is not None else dataset.ocr()
    with_text = set(ocr["image_id"].to_list())
    image_id = next((i for i in images["image_id"].to_list() if i in with_text), None)
    if image_id is None:
        raise HopidError(f"{dataset.root}: no test image with scene text for the attention map")
    from hopid.models.inputs import tokens_by_image

    path = dataset.image_path(images.filter(images["image_id"] == image_id)["path"][0])
    tokens = tokens_by_image(ocr.filter(ocr["image_id"] == image_id))[image_id]
    attention_figure(hopid, open_image(path), tokens, out_dir / "attention.png", f"{path.name} · HOPID")
    written["attention"] = out_dir / "attention.png"
    return written
