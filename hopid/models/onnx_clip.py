"""A plain CLIP model served by onnxruntime: texts and images into vectors without torch.

:func:`prepare_towers` (index time, torch needed) exports the model's two towers, quantizes
each to int8 when asked and when its vectors agree with the fp32 graph's
(:mod:`hopid.models.tower_export`), and saves onnxruntime's optimized graphs; the result is
cached per model and precision. :class:`OnnxClipEncoder` (query and index time, no torch) reads
them: text queries, image queries, and the index's own embedding of its images.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hopid.data.scan import content_hash
from hopid.models.encoder import ImageEncoder
from hopid.models.pixels import pixel_batch, supports
from hopid.models.tower_export import (
    PRECISIONS,
    agreement,
    export_image_tower,
    export_text_tower,
    open_session,
    quantize_int8,
    save_optimized,
)
from hopid.scenetext.fusion import DEFAULT_ALPHA

if TYPE_CHECKING:
    from PIL import Image

    from hopid.models.factory import ClipEncoder
    from hopid.models.spec import ModelSpec

TEXT_GRAPH = "text.onnx"  # the chosen precision, optimized
IMAGE_GRAPH = "image.onnx"
FACTS = "towers.json"
PROBE_COLOURS = ("red", "blue", "green", "white", "black", "yellow")
PROBE_THINGS = ("truck", "sign", "bottle", "shop front", "bus", "poster", "street", "menu")
PROBE_WORDS = ("Coca-Cola", "HarbourFront", "EXIT 24", "Louvre", "MARKET", "caf\u00e9", "10% OFF")


def probe_texts() -> list[str]:
    """336 query-like texts the quantized text tower is checked on."""
    return [f"a {c} {t} that says {w}" for c in PROBE_COLOURS for t in PROBE_THINGS for w in PROBE_WORDS]


def probe_images(count: int = 64) -> list[Image.Image]:
    """``count`` drawn images the quantized image tower is checked on: blocks of colour and a word
    on plain grounds, different in every one. Fixed, not the collection's: the choice of precision
    must not depend on which images a run (or a shard) happens to hold."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    images: list[Image.Image] = []
    rng = np.random.default_rng(0)
    while len(images) < count:
        index = len(images)
        ground = tuple(int(v) for v in rng.integers(0, 256, 3))
        image = PILImage.new("RGB", (int(rng.integers(160, 400)), int(rng.integers(160, 400))), ground)
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(2, 6))):
            box = sorted(int(v) for v in rng.integers(0, 160, 2))
            draw.rectangle(
                (box[0], box[0] // 2, box[1] + 40, box[1]), fill=tuple(int(v) for v in rng.integers(0, 256, 3))
            )
        draw.text((10, 10), PROBE_WORDS[index % len(PROBE_WORDS)], fill=(255 - ground[0], 0, 0))
        images.append(image)
    return images


@dataclass(frozen=True)
class Towers:
    """The prepared graphs of one model and what was decided about them."""

    folder: Path
    facts: dict[str, Any]

    @property
    def image_precision(self) -> str:
        return self.facts["image"]["precision"]


def prepare_towers(encoder: ClipEncoder, folder: Path, precision: str) -> Towers:
    """The optimized text and image graphs of ``encoder`` in ``folder`` (made once, then read):
    int8 for a tower whose int8 vectors agree with fp32 on the probes (``precision`` int8),
    else fp32; ``facts`` records each tower's precision, its agreement and the preprocessing.
    The folder appears whole or not at all (made beside it, then renamed): processes preparing
    the same model at once (Ray workers, two indexes of one cache) all end up reading one of them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if (folder / FACTS).is_file():
        towers = Towers(folder, json.loads((folder / FACTS).read_text()))
        if towers.facts.get("fingerprint") == encoder.fingerprint and _graphs_intact(towers):
            return towers
        shutil.rmtree(folder)  # another model's, or a graph changed (generations hard-link these files)
    work = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _make_towers(encoder, work, precision)
        os.rename(work, folder)
    except OSError:
        if not (folder / FACTS).is_file():  # else another process renamed its folder first: read that
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Towers(folder, json.loads((folder / FACTS).read_text()))


def _make_towers(encoder: ClipEncoder, folder: Path, precision: str) -> None:
    config = dict(encoder.model.visual.preprocess_cfg)
    export_text_tower(encoder.model, encoder.tokenizer(["a photo"]).to(encoder.device), folder / "text.fp32.onnx")
    export_image_tower(encoder.model, tuple(config["size"]), folder / "image.fp32.onnx")
    texts = encoder.tokenizer(probe_texts()).numpy()
    pixels = pixel_batch(probe_images(), config)
    fp32_texts = open_session(folder / "text.fp32.onnx", optimized=False).run(None, {"ids": texts})[0]
    fp32_images = open_session(folder / "image.fp32.onnx", optimized=False).run(None, {"pixels": pixels})[0]
    facts: dict[str, Any] = {"fingerprint": encoder.fingerprint, "preprocess": _jsonable(config)}
    for tower, feed, reference, gallery in (
        ("text", {"ids": texts}, fp32_texts, fp32_images),
        ("image", {"pixels": pixels}, fp32_images, fp32_images),
    ):
        chosen, found = "fp32", None
        if precision == "int8":
            quantize_int8(folder / f"{tower}.fp32.onnx", folder / f"{tower}.int8.onnx")
            quantized = open_session(folder / f"{tower}.int8.onnx", optimized=False).run(None, feed)[0]
            found = agreement(reference, quantized, gallery)
            chosen = "int8" if found.passes else "fp32"
        save_optimized(folder / f"{tower}.{chosen}.onnx", folder / f"{tower}.onnx")
        facts[tower] = {"precision": chosen, "asked": precision, "agreement": found and vars(found)}
    for leftover in folder.glob("*.*.onnx"):
        leftover.unlink()
    facts["graphs"] = {name: content_hash(folder / name) for name in (TEXT_GRAPH, IMAGE_GRAPH)}
    (folder / FACTS).write_text(json.dumps(facts, indent=2))


def _graphs_intact(towers: Towers) -> bool:
    """Whether both graphs still have the contents they were made with (a fraction of a second
    for ViT-B/32's 150 MB; index generations link these files, so damage to one shows here)."""
    recorded = towers.facts.get("graphs") or {}
    return all(
        (towers.folder / name).is_file() and content_hash(towers.folder / name) == recorded.get(name)
        for name in (TEXT_GRAPH, IMAGE_GRAPH)
    )


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


class OnnxClipEncoder(ImageEncoder):
    """A plain CLIP model's towers in onnxruntime; each graph is opened on first use, on
    ``threads`` cores (None: onnxruntime's default, every core).

    An int8 graph quantizes its activations with one scale per input tensor, found at run time,
    so a batch's images would change each other's vectors: an int8 tower is run one input at a
    time, which makes every vector independent of what it is batched with (resumed runs
    and Ray workers all give the same vectors)."""

    needs_ocr = False
    fusion_alpha = DEFAULT_ALPHA

    def __init__(
        self,
        text_graph: Path,
        image_graph: Path | None,
        facts: dict[str, Any],
        spec: ModelSpec,
        dim: int,
        threads: int | None = None,
    ) -> None:
        from hopid.models.bpe import ClipBPE

        self.arguments = (text_graph, image_graph, facts, spec, dim, threads)  # how it is rebuilt elsewhere
        self.graphs = {"text": text_graph, "image": image_graph}
        self.threads = threads
        self.sessions: dict[str, Any] = {}
        self.preprocess = facts["preprocess"]
        self.one_at_a_time = {tower: facts[tower]["precision"] == "int8" for tower in ("text", "image")}
        self.tokenizer = ClipBPE(context_length=int(facts["context_length"]))
        self.fingerprint = facts["fingerprint"]
        self.spec = spec
        self.dim = dim

    @classmethod
    def from_towers(cls, towers: Towers, encoder: ClipEncoder) -> OnnxClipEncoder:
        facts = towers.facts | {"context_length": int(encoder.tokenizer(["a photo"]).shape[1])}
        return cls(towers.folder / TEXT_GRAPH, towers.folder / IMAGE_GRAPH, facts, encoder.spec, int(encoder.dim))

    def __reduce__(self) -> tuple:
        """Pickled as the graphs' paths and facts: another process (a Ray actor) opens them itself."""
        return (type(self), self.arguments)

    def on_threads(self, threads: int) -> OnnxClipEncoder:
        """The same towers, run on ``threads`` cores (e.g. one, beside single-threaded OCR)."""
        return type(self)(*self.arguments[:-1], threads=threads)

    def session(self, tower: str):
        """The onnxruntime session of ``tower`` ("text" or "image"), opened on first use."""
        if tower not in self.sessions:
            self.sessions[tower] = open_session(self.graphs[tower], threads=self.threads)
        return self.sessions[tower]

    @staticmethod
    def can_read(facts: dict[str, Any]) -> bool:
        """Whether the torch-free preprocessing reproduces this model's (else images need torch)."""
        return supports(facts.get("preprocess") or {})

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run(self.session("text"), "text", "ids", self.tokenizer(list(texts)))

    def encode_images(self, images: Sequence[Image.Image], ocr: Sequence[Sequence] | None = None) -> np.ndarray:
        """Image vectors (``ocr`` is accepted and unused: plain CLIP embeds pixels alone)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run(self.session("image"), "image", "pixels", pixel_batch(images, self.preprocess))

    def _run(self, session, tower: str, name: str, batch: np.ndarray) -> np.ndarray:
        if not self.one_at_a_time[tower]:
            return session.run(None, {name: batch})[0].astype(np.float32)
        return np.concatenate([session.run(None, {name: batch[i : i + 1]})[0] for i in range(len(batch))]).astype(
            np.float32
        )
