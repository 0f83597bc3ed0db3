"""The image tower's attention with and without the HOPID visual prompt (the OCR boxes drawn
in red on the pixels), OCR boxes overlaid, as in the paper's attention figure.

Which attention: the **last transformer block's class-token attention**, averaged over heads
(for a tower that pools by attention, the pooler's attention averaged over its queries; for
average pooling, the mean attention over all patches). open_clip calls
``nn.MultiheadAttention`` with ``need_weights=False``, so a forward pre-hook keeps the block's
input and the weights are recomputed from it with the block's own layer norm and attention
module (``need_weights=True``); the model's outputs are untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hopid.errors import HopidError
from hopid.models.encoder import ImageEncoder
from hopid.models.inputs import OcrToken, keep_tokens, prompted_image, tokens_by_image
from hopid.models.network import NetConfig
from hopid.viz.canvas import BOX, box_outline, new_figure, save_png, shorten

SHOWN = 256  # pixels of the displayed (square, centre-cropped) model view


@dataclass
class AttentionMaps:
    """Patch-grid attention of the pooled feature, without and with the visual prompt."""

    plain: np.ndarray  # [grid_h, grid_w], sums to at most 1
    prompted: np.ndarray
    box_share: tuple[float, float]  # attention on patches under an OCR box: plain, prompted


def _tower(encoder: ImageEncoder):
    """``(open_clip vision transformer, preprocess, HOPID network config)`` of an encoder."""
    from hopid.models.factory import ClipEncoder
    from hopid.models.run import RunEncoder

    if isinstance(encoder, RunEncoder):
        visual, config = encoder.net.clip.visual, encoder.config
    elif isinstance(encoder, ClipEncoder):
        visual, config = encoder.model.visual, NetConfig()
    else:
        raise HopidError("attention maps need a model with an image tower (a run directory or an open_clip model)")
    if not hasattr(visual, "transformer") or not hasattr(visual, "grid_size"):
        raise HopidError("attention maps need a ViT image tower (e.g. tiny, ViT-B-32)")
    # the prompt as the run draws it, also for a model trained without it (the CLIP-only baseline)
    return visual, encoder.preprocess, dataclasses.replace(config, scene_text=True, visual_prompt=True)


def pooled_attention(visual, pixels) -> np.ndarray:
    """``[B, grid_h, grid_w]`` attention of the pooled feature over the patches (see the module)."""
    import torch

    pooler = getattr(visual, "attn_pool_contrastive", None) or getattr(visual, "attn_pool", None)
    if pooler is not None and getattr(visual, "attn_pool_type", "") == "cascade":
        raise HopidError("attention maps: a cascaded attention pooler does not attend to patches")
    module = pooler if pooler is not None else visual.transformer.resblocks[-1]
    kept: dict[str, torch.Tensor] = {}

    def keep(_module, args, kwargs):
        kept["x"] = args[0] if args else next(iter(kwargs.values()))

    handle = module.register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.inference_mode():
            visual(pixels)
            x = kept["x"]
            if pooler is not None:
                keys = pooler.ln_k(x)
                queries = pooler.ln_q(pooler.query).unsqueeze(0).expand(x.shape[0], -1, -1)
                weights = pooler.attn(queries, keys, keys, need_weights=True)[1].mean(dim=1)
            else:
                if not module.attn.batch_first:
                    x = x.transpose(0, 1)
                normed = module.ln_1(x)
                full = _weights(module.attn, normed)
                pooled = getattr(visual, "pool_type", "tok")
                weights = full[:, 0] if pooled == "tok" else full.mean(dim=1)
    finally:
        handle.remove()
    grid_h, grid_w = visual.grid_size
    patches = weights[:, -grid_h * grid_w :].float().cpu().numpy()
    return patches.reshape(-1, grid_h, grid_w)


def _weights(attention, x):
    """Head-averaged attention weights ``[B, L, L]`` of a (batch-first view of a) block input."""
    if attention.batch_first:
        return attention(x, x, x, need_weights=True, average_attn_weights=True)[1]
    seq = x.transpose(0, 1)
    return attention(seq, seq, seq, need_weights=True, average_attn_weights=True)[1]


def model_view(image: Image.Image, size: int = SHOWN) -> tuple[Image.Image, tuple[float, float, float]]:
    """The centred square the model sees (shortest side resized, centre crop) at ``size``
    pixels, and ``(left, top, side)`` of that square in the original's pixels."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    crop = image.crop((round(left), round(top), round(left) + side, round(top) + side)).resize((size, size))
    return crop, (left, top, side)


def _outlines(tokens: Sequence[OcrToken], image_size: tuple[int, int], square: tuple[float, float, float], size: int):
    left, top, side = square
    scale = size / side
    return [box_outline(t.box, *image_size, left, top) * scale for t in tokens]


def box_share(attention: np.ndarray, outlines: Sequence[np.ndarray], size: int = SHOWN) -> float:
    """The share of ``attention`` on patches whose centre lies inside an OCR box's bounding rectangle."""
    grid_h, grid_w = attention.shape
    ys, xs = (np.arange(grid_h) + 0.5) * size / grid_h, (np.arange(grid_w) + 0.5) * size / grid_w
    inside = np.zeros(attention.shape, dtype=bool)
    for outline in outlines:
        (x0, y0), (x1, y1) = outline.min(axis=0), outline.max(axis=0)
        inside |= ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]
    total = float(attention.sum())
    return float(attention[inside].sum() / total) if total > 0 else 0.0


def attention_maps(
    encoder: ImageEncoder, image: Image.Image, tokens: Sequence[OcrToken]
) -> tuple[AttentionMaps, Image.Image]:
    """The pooled feature's attention on ``image`` and on it with the visual prompt, and the
    prompted image (boxes of ``tokens`` outlined as the model's visual prompt draws them)."""
    import torch

    visual, preprocess, config = _tower(encoder)
    tokens = keep_tokens(tokens, config.max_ocr_tokens)
    prompted = prompted_image(image, tokens, config)
    device = next(visual.parameters()).device
    pixels = torch.stack([preprocess(image), preprocess(prompted)]).to(device)
    plain, with_prompt = pooled_attention(visual, pixels)
    _, square = model_view(image)
    outlines = _outlines(tokens, image.size, square, SHOWN)
    shares = (box_share(plain, outlines), box_share(with_prompt, outlines))
    return AttentionMaps(plain, with_prompt, shares), prompted


def attention_figure(
    encoder, image: Image.Image, tokens: Sequence[OcrToken], out: str | Path, title: str = ""
) -> AttentionMaps:
    """Four panels: the image with its OCR boxes, the attention without the prompt, the
    prompted image the model reads, the attention with the prompt (OCR boxes dashed)."""
    maps, prompted = attention_maps(encoder, image, tokens)
    view, square = model_view(image)
    prompted_view, _ = model_view(prompted)
    outlines = _outlines(keep_tokens(tokens, 10**6), image.size, square, SHOWN)
    figure = new_figure(13, 3.9)
    panels = [
        (view, None, f"image, {len(outlines)} OCR box(es)"),
        (view, maps.plain, f"attention, no prompt\n{100 * maps.box_share[0]:.0f} % on OCR boxes"),
        (prompted_view, None, "visual prompt (model input)"),
        (prompted_view, maps.prompted, f"attention, with prompt\n{100 * maps.box_share[1]:.0f} % on OCR boxes"),
    ]
    top = max(float(maps.plain.max()), float(maps.prompted.max()), 1e-9)
    for i, (picture, attention, label) in enumerate(panels):
        axes = figure.add_subplot(1, 4, i + 1)
        axes.imshow(picture, extent=(0, SHOWN, SHOWN, 0))
        if attention is not None:
            axes.imshow(
                attention,
                cmap="jet",
                alpha=0.5,
                vmin=0,
                vmax=top,
                extent=(0, SHOWN, SHOWN, 0),
                interpolation="bilinear",
            )
        if i != 2:
            for outline in outlines:
                axes.plot(
                    outline[:, 0],
                    outline[:, 1],
                    color=BOX if attention is None else "white",
                    linewidth=1.3,
                    linestyle="-" if attention is None else "--",
                )
        axes.set_xlim(0, SHOWN)
        axes.set_ylim(SHOWN, 0)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(label, fontsize=9)
    figure.suptitle(shorten(title, 120) or "last-block class-token attention (mean over heads)", fontsize=10)
    figure.subplots_adjust(left=0.01, right=0.99, top=0.8, bottom=0.02, wspace=0.04)
    save_png(figure, out)
    return maps


def scene_text(image_path: str | Path, dataset=None, engine: str | None = None) -> list[OcrToken]:
    """The OCR words of an image: the dataset's OCR rows when ``dataset`` holds this file,
    else read now with ``engine`` (default: the default OCR engine)."""
    from hopid.models.inputs import ocr_tokens

    path = Path(image_path).resolve()
    if dataset is not None:
        for image_id, stored in dataset.images.select("image_id", "path").iter_rows():
            if dataset.image_path(stored).resolve() == path:
                rows = dataset.ocr(engine)
                return tokens_by_image(rows.filter(rows["image_id"] == image_id)).get(image_id, [])
        raise HopidError(f"{image_path}: not an image of the dataset {dataset.root}")
    from hopid.ocr.pool import ocr_paths
    from hopid.ocr.registry import DEFAULT_ENGINE

    result = next(iter(ocr_paths([path], engine or DEFAULT_ENGINE, workers=1)))
    if result.error:
        raise HopidError(f"{image_path}: {result.error}")
    return ocr_tokens(
        [w.text for w in result.words], [w.box for w in result.words], [w.confidence for w in result.words]
    )
