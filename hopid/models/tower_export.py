"""A CLIP model's towers as ONNX graphs made to load fast: exported, int8-quantized when that
keeps the vectors (checked, not assumed), and saved as onnxruntime's optimized graph so that a
cold start skips optimization.

Quantization is onnxruntime's dynamic int8 (weights int8, activations quantized at run time),
which on CPU both shrinks a ViT-B/32 text tower from 254 MB to 64 MB and runs faster; fp16 has
no fast CPU kernels in onnxruntime. A quantized tower is kept only when its vectors agree with
the fp32 graph's: cosine at least :data:`MIN_COSINE` on every probe and top-10 overlap at least
:data:`MIN_TOP10_OVERLAP` (:func:`agreement`); otherwise the fp32 graph is kept and the reason
returned, for ``query.json`` to say.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRECISIONS = ("int8", "fp32")
MIN_COSINE = 0.99
MIN_TOP10_OVERLAP = 0.95


@dataclass(frozen=True)
class Agreement:
    """How close a quantized tower's vectors are to the fp32 graph's on the same inputs."""

    min_cosine: float
    top10_overlap: float
    probes: int

    @property
    def passes(self) -> bool:
        return self.min_cosine >= MIN_COSINE and self.top10_overlap >= MIN_TOP10_OVERLAP


def agreement(reference: np.ndarray, candidate: np.ndarray, gallery: np.ndarray) -> Agreement:
    """Per-probe cosine of ``candidate`` to ``reference`` vectors (the same inputs through the
    quantized and the fp32 graph) and the mean overlap of their top 10 over ``gallery`` vectors."""
    ref = reference / np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    cand = candidate / np.maximum(np.linalg.norm(candidate, axis=1, keepdims=True), 1e-12)
    cosine = float((ref * cand).sum(axis=1).min()) if len(ref) else 1.0
    k = min(10, len(gallery))
    if k == 0 or not len(ref):
        return Agreement(cosine, 1.0, len(ref))
    top_ref = np.argsort(-(ref @ gallery.T), axis=1, kind="stable")[:, :k]
    top_cand = np.argsort(-(cand @ gallery.T), axis=1, kind="stable")[:, :k]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_cand, strict=True)])
    return Agreement(cosine, float(overlap), len(ref))


def export_text_tower(model, example_ids, path: Path) -> None:
    """open_clip ``model``'s text tower (token ids ``ids`` -> normalised ``vector``) to ``path``."""
    import torch

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(ids, normalize=True)

    _export(TextTower(), (example_ids,), "ids", path)


def export_image_tower(model, size: tuple[int, int], path: Path) -> None:
    """open_clip ``model``'s image tower (``pixels`` [N, 3, H, W] -> normalised ``vector``) to ``path``."""
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(pixels, normalize=True)

    device = next(model.parameters()).device
    _export(ImageTower(), (torch.zeros(1, 3, *size, device=device),), "pixels", path)


def _export(module, example: tuple, input_name: str, path: Path) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and opset notes
        torch.onnx.export(
            module.eval(),
            example,
            str(path),
            input_names=[input_name],
            output_names=["vector"],
            dynamic_axes={input_name: {0: "batch"}, "vector": {0: "batch"}},
            dynamo=False,
        )


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the graph at ``source`` into ``target``, one scale per output
    channel (per tensor moved a random-init ViT-B/32 text tower's top 10 too far: overlap 0.93
    against 0.98 per channel)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    def not_the_preprocessing_advice(record: logging.LogRecord) -> bool:
        # onnxruntime's symbolic shape inference (the advised pre-processing) fails on CLIP's graphs
        return not str(record.msg).startswith("Please consider to run pre-processing")

    root = logging.getLogger()
    root.addFilter(not_the_preprocessing_advice)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(not_the_preprocessing_advice)


def save_optimized(source: Path, target: Path) -> None:
    """onnxruntime's optimized form of ``source`` at ``target``: extended optimizations only,
    which do not depend on this machine's CPU (the index may be copied elsewhere)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def open_session(path: Path, optimized: bool = True, threads: int | None = None):
    """An onnxruntime CPU session on ``threads`` cores (None: its default); ``optimized``: the
    graph was saved by :func:`save_optimized`, so the session skips optimizing it again."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if optimized:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
