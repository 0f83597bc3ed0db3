"""The query side without torch: a CLIP text tower exported to ONNX when the index is built.

Importing torch and open_clip costs seconds; onnxruntime a fifth of one. ``hopid index`` writes
``query.onnx`` (token ids -> L2-normalised text vector) and ``query.json`` (the model's
fingerprint and context length) next to the index for plain CLIP models, and ``hopid query``
then encodes its text with :class:`OnnxTextEncoder` and the pure-Python tokenizer of
:mod:`hopid.search.bpe`. Trained runs (entity tagger, word bank) keep the full encoder.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hopid.search.fusion import DEFAULT_ALPHA

QUERY_MODEL = "query.onnx"
QUERY_INFO = "query.json"


def export_query_encoder(encoder, index_dir: Path) -> bool:
    """Write the ONNX text tower of a plain CLIP ``encoder``; False (nothing written) for other
    encoders or when the export is not possible here."""
    if not hasattr(encoder, "model") or not hasattr(encoder.model, "encode_text"):
        return False
    info_path = index_dir / QUERY_INFO
    if info_path.is_file() and json.loads(info_path.read_text()).get("fingerprint") == encoder.fingerprint:
        return True
    import torch

    from hopid.data.schema import atomic_write_bytes

    class TextTower(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(ids, normalize=True)

    example = encoder.tokenizer(["a photo"]).to(encoder.device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation and opset notes
            atomic_write_bytes(
                index_dir / QUERY_MODEL,
                lambda tmp: torch.onnx.export(
                    TextTower(encoder.model).eval(),
                    (example,),
                    tmp,
                    input_names=["ids"],
                    output_names=["vector"],
                    dynamic_axes={"ids": {0: "texts"}, "vector": {0: "texts"}},
                    dynamo=False,
                ),
            )
    except Exception:  # noqa: BLE001 - no exporter here: queries keep the full encoder
        return False
    info = {"fingerprint": encoder.fingerprint, "context_length": int(example.shape[1]), "dim": encoder.dim}
    atomic_write_bytes(info_path, lambda tmp: Path(tmp).write_text(json.dumps(info)))
    return True


class OnnxTextEncoder:
    """Text -> vector with onnxruntime; the same vectors as the exported CLIP encoder (tested)."""

    needs_ocr = False
    fusion_alpha = DEFAULT_ALPHA

    def __init__(self, index_dir: Path, spec) -> None:
        import onnxruntime

        from hopid.search.bpe import ClipBPE

        info = json.loads((index_dir / QUERY_INFO).read_text())
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(index_dir / QUERY_MODEL), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = ClipBPE(context_length=info["context_length"])
        self.fingerprint = info["fingerprint"]
        self.dim = info["dim"]
        self.spec = spec

    @classmethod
    def available(cls, index_dir: Path, fingerprint: str) -> bool:
        info = index_dir / QUERY_INFO
        if not (index_dir / QUERY_MODEL).is_file() or not info.is_file():
            return False
        try:
            return json.loads(info.read_text()).get("fingerprint") == fingerprint
        except ValueError:
            return False

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.session.run(None, {"ids": self.tokenizer(list(texts))})[0].astype(np.float32)
