"""Which published protocol a benchmark is evaluated under (docs/datasets.md#protocols).

``hopid prepare`` writes ``benchmark.json`` naming the benchmark; :func:`plan` turns that name
plus ``--subset``/``--folds`` into what :func:`hopid.eval.evaluate.evaluate` computes. A folder
without a card (``hopid index``/synthetic data) keeps the generic behaviour: caption R@K, and
the identity metrics too when every image has an ``object_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hopid.errors import HopidError
from hopid.eval.metrics import caption_protocol, fold_average, identity_protocol

CAPTIONS = "5-captions-per-image"  # CTC / COCO / Flickr30K / TextCaps: R@K both ways, rSum
IDENTITY = "identity"  # person retrieval, CUB, Flowers: Rank-K (CMC), mAP, mINP
NEWS = "captions-per-image"  # news sets: one caption per image, R@K both ways
WORDS = "words"  # SVT / ICDAR 2015 word retrieval: one word per query, AP over every image, mAP
GENERIC = "generic"  # no benchmark card: caption R@K, plus identity metrics when object ids exist


@dataclass(frozen=True)
class Variant:
    """A named test protocol of a benchmark: a subset of the test images, or fold averaging."""

    subset: str | None = None
    folds: int | None = None


@dataclass(frozen=True)
class Protocol:
    name: str
    variants: dict[str, Variant] = field(default_factory=dict)
    fold_averaging: bool = True


PROTOCOLS: dict[str, Protocol] = {
    "ctc": Protocol(CAPTIONS, {"ctc1k": Variant(subset="ctc1k"), "ctc5k": Variant()}, fold_averaging=False),
    "textcaps": Protocol(CAPTIONS),
    "coco": Protocol(CAPTIONS, {"coco1k": Variant(folds=5), "coco5k": Variant()}),
    "flickr30k": Protocol(CAPTIONS),
    "cuhk-pedes": Protocol(IDENTITY),
    "icfg-pedes": Protocol(IDENTITY),
    "rstpreid": Protocol(IDENTITY),
    "cub": Protocol(IDENTITY),
    "flowers": Protocol(IDENTITY),
    "n24news": Protocol(NEWS),
    "goodnews": Protocol(NEWS),
    "visualnews": Protocol(NEWS),
    "svt": Protocol(WORDS),
    "icdar15": Protocol(WORDS),
}


@dataclass(frozen=True)
class Plan:
    """What to evaluate: the protocol's metrics, on which image subset, with how many folds."""

    protocol: str
    subset: str | None
    folds: int | None
    label: str  # e.g. "coco1k", for titles and the default output folder


def plan(benchmark: str | None, subset: str | None, folds: int | None) -> Plan:
    """The evaluation plan of ``benchmark`` (None: a folder without a card) for ``--subset``/``--folds``."""
    if benchmark is None or benchmark not in PROTOCOLS:
        return Plan(GENERIC, subset, folds, subset or "")
    protocol = PROTOCOLS[benchmark]
    if folds is not None and not protocol.fold_averaging:
        raise HopidError(f"--folds: {benchmark} is evaluated without fold averaging")
    variant = protocol.variants.get(subset or "")
    if variant is None:
        return Plan(protocol.name, subset, folds, subset or "")
    if folds is not None and variant.folds is not None and folds != variant.folds:
        raise HopidError(f"--subset {subset} means {variant.folds} folds; --folds {folds} contradicts it")
    return Plan(protocol.name, variant.subset, variant.folds or folds, subset or "")


def protocol_metrics(
    chosen: Plan, scores: np.ndarray, caption_image: np.ndarray, object_ids: Sequence[str | None], where: str
) -> dict[str, float]:
    """The metrics of ``chosen``'s protocol for captions x images ``scores``: caption R@K (fold
    averaged when asked), identity metrics by ``object_ids`` (one per image), or both for a folder
    without a benchmark card whose images all have one. ``where`` names the data in errors."""
    metrics: dict[str, float] = {}
    if chosen.protocol != IDENTITY:
        folds = chosen.folds
        metrics = caption_protocol(scores, caption_image) if not folds else fold_average(scores, caption_image, folds)
    has_ids = len(object_ids) > 0 and all(found is not None for found in object_ids)
    if chosen.protocol == IDENTITY and not has_ids:
        raise HopidError(f"{where}: the identity protocol needs an object_id on every image")
    if has_ids and chosen.protocol in (IDENTITY, GENERIC):
        metrics |= identity_protocol(scores, [object_ids[i] for i in caption_image], list(object_ids))
    return metrics


def headline_metric(protocol: str) -> str:
    """The metric a protocol's results are compared by: mAP for identities, else rSum."""
    return "map" if protocol == IDENTITY else "rsum"
