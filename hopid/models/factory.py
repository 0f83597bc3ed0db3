"""The model factory: one function turns any ``--model`` string into an encoder.

``tiny`` is a built-in random-init open_clip config (seeded, for tests and the demo);
``ARCH:PRETRAINED`` downloads through open_clip when a hub is reachable and fails fast
when it is not; ``ARCH:/path/to/weights`` loads a local open_clip checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from hopid.errors import HopidError
from hopid.models.encoder import ImageEncoder
from hopid.models.spec import ModelSpec, parse_model_spec
from hopid.scenetext.fusion import DEFAULT_ALPHA

CONFIG_DIR = Path(__file__).parent / "configs"
HUB_HOST = ("huggingface.co", 443)
TINY_SEED = 0


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers a TCP connection within ``timeout`` seconds."""
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ClipEncoder(ImageEncoder):
    """An open_clip model as a pair of encoders giving L2-normalised float32 vectors."""

    needs_ocr = False  # plain CLIP embeds the pixels alone
    fusion_alpha = DEFAULT_ALPHA  # the weight of the scene-text score for this model

    def __init__(self, spec: ModelSpec, model, preprocess, tokenizer, device: str) -> None:
        self.spec = spec
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.dim = int(model.text_projection.shape[1]) if hasattr(model, "text_projection") else None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """A hash of every weight: two encoders with the same fingerprint give the same vectors."""
        if self._fingerprint is None:
            digest = hashlib.blake2b(digest_size=16)
            for name, tensor in sorted(self.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def encode_images(self, images: Sequence[Image.Image], ocr=None) -> np.ndarray:
        """Image vectors; ``ocr`` (per-image OCR tokens) is accepted and unused by plain CLIP."""
        import torch

        if not images:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        batch = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_image(batch, normalize=True)
        return features.float().cpu().numpy()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_text(tokens, normalize=True)
        return features.float().cpu().numpy()


@contextmanager
def hub_offline(offline: bool = True) -> Iterator[None]:
    """huggingface_hub in offline mode (cache only) for the calls inside, when ``offline``; the
    process environment and every later call are left as they were."""
    if not offline:
        yield
        return
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _import_open_clip():
    import open_clip

    if str(CONFIG_DIR) not in map(str, getattr(open_clip.factory, "_MODEL_CONFIG_PATHS", [])):
        open_clip.add_model_config(CONFIG_DIR)
    return open_clip


def _check_arch(open_clip, spec: ModelSpec) -> None:
    if spec.arch.startswith("hf-hub:"):
        return
    if spec.arch not in open_clip.list_models():
        raise HopidError(
            f"--model {spec.text!r}: unknown open_clip architecture {spec.arch!r} (see open_clip.list_models())"
        )


def build_architecture(backbone: str, device: str) -> ClipEncoder:
    """The backbone's architecture without downloading anything (random init; weights are loaded
    afterwards from a run directory). ``tiny`` is its usual seeded init."""
    spec = parse_model_spec(backbone)
    if spec.kind == "tiny":
        return load_encoder(spec, device)
    open_clip = _import_open_clip()
    if spec.arch.startswith("hf-hub:"):
        raise HopidError(f"backbone {backbone!r}: hf-hub backbones cannot be rebuilt offline; use ARCH:TAG")
    _check_arch(open_clip, spec)
    with hub_offline():
        model_, _, preprocess = open_clip.create_model_and_transforms(spec.arch, pretrained=None, device=device)
        tokenizer = open_clip.get_tokenizer(spec.arch)
    return ClipEncoder(spec, model_, preprocess, tokenizer, device)


def load_encoder(model: str | ModelSpec, device: str | None = None):
    """Build the encoder a ``--model`` string names; every failure is a one-line HopidError."""
    spec = parse_model_spec(model) if isinstance(model, str) else model
    device = device or pick_device()
    if spec.kind == "run":
        from hopid.models.run import RunEncoder

        return RunEncoder(Path(spec.source), device)
    if spec.kind == "pretrained":
        return _load_pretrained(spec, device)
    open_clip = _import_open_clip()
    _check_arch(open_clip, spec)
    import torch

    with hub_offline():  # built from local files only
        if spec.kind == "tiny":
            torch.manual_seed(TINY_SEED)
            model_, _, preprocess = open_clip.create_model_and_transforms(spec.arch, pretrained=None, device=device)
        else:
            try:
                model_, _, preprocess = open_clip.create_model_and_transforms(
                    spec.arch, pretrained=str(spec.weights_path), device=device, weights_only=True
                )
            except (RuntimeError, ValueError, KeyError, OSError) as exc:
                raise HopidError(f"--model {spec.text!r}: cannot load these weights into {spec.arch}: {exc}") from exc
        tokenizer = open_clip.get_tokenizer(spec.arch)
    return ClipEncoder(spec, model_, preprocess, tokenizer, device)


def _load_pretrained(spec: ModelSpec, device: str) -> ClipEncoder:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_reachable()
    open_clip = _import_open_clip()
    _check_arch(open_clip, spec)
    if not spec.arch.startswith("hf-hub:") and spec.source not in open_clip.list_pretrained_tags_by_model(spec.arch):
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(spec.arch)) or "none"
        raise HopidError(
            f"--model {spec.text!r}: unknown pretrained tag {spec.source!r} for {spec.arch} (known: {tags})"
        )
    try:
        with hub_offline(offline):  # from the cache only when the hub is unreachable
            if spec.arch.startswith("hf-hub:"):
                model_, _, preprocess = open_clip.create_model_and_transforms(spec.arch, device=device)
            else:
                model_, _, preprocess = open_clip.create_model_and_transforms(
                    spec.arch, pretrained=spec.source, device=device
                )
            tokenizer = open_clip.get_tokenizer(spec.arch)
    except Exception as exc:  # open_clip and huggingface_hub raise many types for "no network"
        if offline:
            raise HopidError(
                f"--model {spec.text!r}: pretrained weights are not cached and the model hub is unreachable; "
                "download them on a connected machine, pass ARCH:/path/to/weights, or use --model tiny"
            ) from exc
        raise HopidError(f"--model {spec.text!r}: could not load pretrained weights: {exc}") from exc
    return ClipEncoder(spec, model_, preprocess, tokenizer, device)
