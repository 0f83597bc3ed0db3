"""``hopid viz``: pictures of a model on a dataset (retrieval examples, t-SNE, attention maps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import MODEL_HELP, err, handle_errors

app = typer.Typer(
    help="Pictures (PNG) of a model on a dataset: retrieval examples, t-SNE maps, attention maps.",
    no_args_is_help=True,
)


def _open(dataset: Path, model: str, split: str | None = None):
    from hopid.data.dataset import Dataset
    from hopid.data.schema import SPLITS
    from hopid.errors import HopidError
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec

    if split is not None and split not in SPLITS:
        raise HopidError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    parse_model_spec(model)  # a wrong --model fails before any work
    return Dataset.open(dataset), load_encoder(model)


@app.command("retrieval")
@handle_errors
def retrieval(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for t2i.png and i2t.png.")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    query: Annotated[
        list[str] | None,
        typer.Option(
            "--query",
            help="A caption_id (a text -> image row) or image_id (an image -> text row); repeat for more. "
            "Default: random queries, about half of them failures.",
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=20, help="Random queries per direction.")] = 4,
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=10, help="Results shown per query.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the random choice of queries.")] = 0,
    per_query: Annotated[
        Path | None,
        typer.Option(help="hopid eval's per_query.parquet to choose queries from (default: DATASET/eval/SPLIT/)."),
    ] = None,
    dense_only: Annotated[
        bool, typer.Option("--dense-only", help="Rank by the model alone, without scene text.")
    ] = False,
    ocr_engine: Annotated[
        str | None, typer.Option(help="Which OCR rows of the dataset to use (default: the best present).")
    ] = None,
) -> None:
    """Retrieval examples both ways, as in the paper's figures: text -> image rows with the right
    image framed green, image -> text rows with the right captions in green, failures included."""
    from hopid.errors import HopidError
    from hopid.viz.retrieval import default_per_query, load_per_query, rank_split, retrieval_figures

    data, encoder = _open(dataset, model, split)
    if per_query is not None and not per_query.is_file():
        raise HopidError(f"--per-query {per_query}: no such file; run `hopid eval {dataset}` first")
    ranked = rank_split(data, encoder, split, dense_only=dense_only, ocr_engine=ocr_engine)
    table = load_per_query(per_query or default_per_query(data, split))
    written = retrieval_figures(ranked, out, queries=query or (), per_query=table, n=n, k=k, seed=seed)
    source = "hopid eval's per_query.parquet" if table is not None and not query else "the model's rankings"
    err.print(f"queries chosen from {source}")
    for path in written:
        print(path)


@app.command("tsne")
@handle_errors
def tsne(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory.")],
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    compare: Annotated[
        str | None, typer.Option(help="A second model drawn beside the first (e.g. the CLIP-only baseline run).")
    ] = None,
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    color_by: Annotated[
        str, typer.Option(help="object: identity (images.object_id) | word: the image's longest OCR word.")
    ] = "object",
    groups: Annotated[int, typer.Option(min=1, max=40, help="How many random groups to show.")] = 12,
    max_points: Annotated[int, typer.Option(min=4, help="At most this many images + captions.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed of the group choice and of t-SNE.")] = 0,
    ocr_engine: Annotated[
        str | None, typer.Option(help="Which OCR rows of the dataset to use (default: the best present).")
    ] = None,
) -> None:
    """t-SNE (scikit-learn) of image and caption embeddings coloured by identity or word;
    side by side with --compare (e.g. HOPID and the CLIP-only baseline)."""
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec
    from hopid.viz.tsne import tsne_figure

    data, encoder = _open(dataset, model, split)
    models = [(model, encoder)]
    if compare is not None:
        parse_model_spec(compare)
        models.append((compare, load_encoder(compare)))
    path = tsne_figure(
        data,
        models,
        out,
        split=split,
        color_by=color_by,
        groups=groups,
        max_points=max_points,
        seed=seed,
        ocr_engine=ocr_engine,
    )
    print(path)


@app.command("attention")
@handle_errors
def attention(
    image: Annotated[Path, typer.Argument(help="Image file.")],
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    dataset: Annotated[
        Path | None, typer.Option(help="Take the OCR boxes from this dataset (IMAGE must be one of its images).")
    ] = None,
    ocr_engine: Annotated[
        str | None, typer.Option(help="OCR engine: the dataset's rows to use, or the engine that reads IMAGE now.")
    ] = None,
) -> None:
    """The image tower's attention (last block, class token, mean over heads) with and without
    the visual prompt (the OCR boxes drawn in red on the pixels), OCR boxes overlaid."""
    from hopid.data.dataset import Dataset
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec
    from hopid.viz.attention import attention_figure, scene_text
    from hopid.viz.canvas import open_image

    parse_model_spec(model)
    picture = open_image(image)
    data = Dataset.open(dataset, need_captions=False) if dataset is not None else None
    tokens = scene_text(image, data, ocr_engine)
    maps = attention_figure(load_encoder(model), picture, tokens, out, f"{image.name} · model {model}")
    err.print(
        f"attention on OCR boxes: {100 * maps.box_share[0]:.0f} % without the prompt,"
        f" {100 * maps.box_share[1]:.0f} % with it"
    )
    print(out)
