"""Training and validation data: one split's images (pixels or cached tower features), OCR
tokens, captions and inferred entity words, in memory, batched by caption index."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch

from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.data.images import ImageLoadError, load_rgb
from hopid.entities.infer import infer_texts
from hopid.entities.prompt import hopid_prompt, prompt_words
from hopid.errors import HopidError
from hopid.models.encoder import explanations_or_texts, with_explanation_words
from hopid.models.inputs import OcrToken, keep_tokens, prompted_image, tokens_by_image
from hopid.models.network import HopidNet
from hopid.progress import Progress
from hopid.train.ocr_noise import NoiseConfig, add_noise, noisy_strings


def hold_out_val(dataset: Dataset, train: str, val: str, fraction: float) -> tuple[Dataset, str | None]:
    """``dataset`` with ``fraction`` of its ``train`` images relabelled ``val`` (in memory) when it
    has no ``val`` images (CTC, ICFG-PEDES); chosen by a hash of each image's object_id (so an
    identity stays on one side) or image_id. Returns the dataset and a note (None: untouched)."""
    if fraction <= 0 or dataset.images.filter(pl.col("split") == val).height:
        return dataset, None
    key = pl.coalesce("object_id", "image_id")
    bucket = key.map_elements(lambda k: int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) / 2**32, pl.Float64)
    moved = dataset.images.filter((pl.col("split") == train) & (bucket < fraction))["image_id"]
    if moved.is_empty():
        return dataset, None
    relabel = pl.when(pl.col("image_id").is_in(moved.implode())).then(pl.lit(val)).otherwise(pl.col("split"))
    images = dataset.images.with_columns(split=relabel)
    captions = dataset.captions.with_columns(split=relabel)
    note = f"no {val!r} split: {moved.len():,} {train} images ({fraction:.0%}, data.val_fraction) validate instead"
    return Dataset(dataset.root, images, captions), note


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    """The noise RNG of one sample: the same on every rank and after a resume."""
    return random.Random(f"{seed}:{epoch}:{index}")


@dataclass
class SplitData:
    """Everything one split needs to be trained on or evaluated, row-aligned."""

    name: str
    image_ids: list[str]
    tokens: list[list[OcrToken]]
    caption_ids: list[str]
    caption_texts: list[str]
    caption_image: np.ndarray
    entity_words: list[list[str]]
    entity_spans: list[list[tuple[int, int]]]  # where the tagger found them (for the scene-text score)
    caption_token_ids: torch.Tensor
    image_groups: list[str | None] | None = None  # object_id per image, when the dataset has them
    pixels: torch.Tensor | None = None  # [images, 3, H, W] float16; dropped once frozen tower features are cached
    image_features: tuple[torch.Tensor, torch.Tensor] | None = None  # (G, patch tokens), frozen tower
    caption_features: torch.Tensor | None = None  # frozen text tower
    explanation_token_ids: torch.Tensor | None = None  # EntityCLIP: each caption's explanation (else itself)
    explained_words: list[list[str]] | None = None  # model.explained_words: the caption's, then the explanation's

    def identity_rows(self, identities: dict[str, int]) -> np.ndarray:
        """Per caption, the row of its image's object_id in ``identities`` (-100: none, ignored)."""
        groups = self.image_groups or [None] * len(self.image_ids)
        return np.asarray([identities.get(groups[i], -100) for i in self.caption_image], dtype=np.int64)

    @property
    def word_lists(self) -> list[list[str]]:
        """Each caption's entity words, and (``model.explained_words``) each one's explained words."""
        return self.entity_words + (self.explained_words or [])

    @property
    def prompts(self) -> list[str]:
        """The HOPID prompt of every caption (and of every explained caption)."""
        return [hopid_prompt(words) for words in self.word_lists]

    @property
    def strings(self) -> list[str]:
        """Every word and entity word the network will look up (without noise variants)."""
        return [t.text for tokens in self.tokens for t in tokens] + [w for ws in self.word_lists for w in ws]

    def noisy_tokens(self, image_row: int, noise: NoiseConfig, rng: random.Random, seed: int) -> list[OcrToken]:
        tokens = self.tokens[image_row]
        return add_noise(tokens, noise, rng, seed) if noise.active else tokens

    def all_noise_strings(self, noise: NoiseConfig, seed: int) -> list[str]:
        return [s for tokens in self.tokens for s in noisy_strings(tokens, noise, seed)] if noise.active else []


def load_split(
    dataset: Dataset,
    split: str,
    net: HopidNet,
    preprocess,
    tagger,
    *,
    ocr: pl.DataFrame,
    errors: ErrorLog,
    progress: Progress | None = None,
) -> SplitData:
    """Read one split: unreadable images are recorded in ``errors`` and left out with their captions."""
    images, captions = dataset.split(split)
    found = tokens_by_image(ocr)
    limit = net.config.max_ocr_tokens
    image_ids, tokens, pixels = [], [], []
    paths = images["path"].to_list()
    for row, image_id in enumerate(images["image_id"].to_list()):
        kept = keep_tokens(found.get(image_id, []), limit)
        try:
            image = load_rgb(dataset.image_path(paths[row]))
        except ImageLoadError as exc:
            errors.add(paths[row], str(exc))
            continue
        pixels.append(preprocess(prompted_image(image, kept, net.config)).half())
        image_ids.append(image_id)
        tokens.append(kept)
        if progress:
            progress(f"load {split}", row + 1, images.height)
    row_of = {image_id: row for row, image_id in enumerate(image_ids)}
    groups_of = dict(zip(images["image_id"].to_list(), images["object_id"].to_list(), strict=True))
    captions = captions.filter(pl.col("image_id").is_in(list(row_of)))
    if captions.is_empty():
        raise HopidError(f"{dataset.root}: split {split!r} has no captions of readable images")
    texts = captions["text"].to_list()
    found = infer_texts(texts, tagger)
    explanations, explained_words = None, None
    entity_words = [prompt_words(entities) for entities in found]
    if net.config.explanation_experts:
        given = explanations_or_texts(captions["explanation"].to_list(), texts)
        explanations = net.tokenizer(given)
        if net.config.explained_words:
            limit = net.config.max_entities
            explained_words = [words[:limit] for words in with_explanation_words(entity_words, given)]
    return SplitData(
        name=split,
        image_ids=image_ids,
        tokens=tokens,
        caption_ids=captions["caption_id"].to_list(),
        caption_texts=texts,
        caption_image=np.asarray([row_of[i] for i in captions["image_id"].to_list()], dtype=np.int64),
        entity_words=[words[: net.config.max_entities] for words in entity_words],
        entity_spans=[[(e.start, e.end) for e in entities] for entities in found],
        caption_token_ids=net.tokenizer(texts),
        image_groups=[groups_of.get(i) for i in image_ids],
        pixels=torch.stack(pixels),
        explanation_token_ids=explanations,
        explained_words=explained_words,
    )


def fingerprint(*parts: object) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def dataset_fingerprint(root: Path) -> str:
    """A hash of the dataset's tables (not the image bytes): what the run was trained on."""
    digest = hashlib.blake2b(digest_size=12)
    for name in ("images", "captions", "ocr"):
        path = root / f"{name}.parquet"
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def epoch_order(data: SplitData, seed: int, epoch: int, group_batches: bool) -> list[int]:
    """The caption order of one epoch: a seeded shuffle; with ``group_batches`` the captions of
    one object_id follow each other (groups in shuffled order), so a batch holds the look-alike
    images that only their scene text tells apart, as hard negatives."""
    generator = torch.Generator().manual_seed(seed * 7919 + epoch)
    order = torch.randperm(len(data.caption_ids), generator=generator).tolist()
    groups = data.image_groups
    if not group_batches or not groups or any(g is None for g in groups):
        return order
    names = sorted(set(groups))
    rank = dict(zip(names, torch.randperm(len(names), generator=generator).tolist(), strict=True))
    return sorted(order, key=lambda c: rank[groups[int(data.caption_image[c])]])


def chunks(indices: Sequence[int], size: int) -> list[list[int]]:
    return [list(indices[i : i + size]) for i in range(0, len(indices), size)]
