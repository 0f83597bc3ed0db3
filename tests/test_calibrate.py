"""The val-split choices training makes after its last epoch (hopid.train.calibrate)."""

from __future__ import annotations

import numpy as np

from hopid.eval.metrics import caption_protocol, identity_protocol
from hopid.train.calibrate import calibrate_alpha, calibrate_rerank

CAPTION_IMAGE = np.array([0, 1])


def metrics_of(scores: np.ndarray) -> dict[str, float]:
    return caption_protocol(scores, CAPTION_IMAGE)


def test_rerank_is_chosen_when_the_reference_profiles_fix_a_ranking():
    scores = np.array([[0.9, 0.1], [0.5, 0.4]], dtype=np.float32)  # caption 1 prefers the wrong image
    queries = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    chosen, tried = calibrate_rerank(scores, queries, gallery, [2], [0.0, 0.5], metrics_of, "rsum")
    assert chosen == {"k": 2, "beta": 0.5, "query": "caption"}
    assert tried["k2@beta0.5"] > tried["k2@beta0.0"]


def test_rerank_stays_off_when_no_setting_improves():
    scores = np.array([[0.9, 0.1], [0.1, 0.9]], dtype=np.float32)  # already right
    queries = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)  # profiles pointing the wrong way
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    chosen, _ = calibrate_rerank(scores, queries, gallery, [1, 2], [0.5, 2.0], metrics_of, "rsum")
    assert chosen == {"k": 1, "beta": 0.0, "query": "caption"}


def test_rerank_against_the_best_image_is_chosen_when_only_it_helps_an_unseen_identity():
    scores = np.array([[0.9, 0.8, 0.7, 0.6]], dtype=np.float32)  # brand a: images 0 and 2
    caption = np.array([[0.0, 1.0]], dtype=np.float32)  # its own profile points at brand b
    gallery = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)

    def identities(matrix: np.ndarray) -> dict[str, float]:
        return identity_protocol(matrix, ["a"], ["a", "b", "a", "b"])

    alone, _ = calibrate_rerank(scores, caption, gallery, [4], [0.5], identities, "rsum")
    assert alone == {"k": 4, "beta": 0.0, "query": "caption"}  # the caption's profile only hurts
    both, tried = calibrate_rerank(scores, caption, gallery, [4], [0.5], identities, "rsum", ("caption", "top"))
    assert both == {"k": 4, "beta": 0.5, "query": "top"}
    assert tried["k4@beta0.5@top"] == 1.0 > tried["k4@beta0.5"]


def test_alpha_is_the_largest_within_tolerance_of_the_best():
    dense = np.array([[0.2, 0.3], [0.3, 0.2]], dtype=np.float32)  # caption 0 wrong without scene text
    lexical = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    alpha, tried = calibrate_alpha(dense, lexical, [0.0, 0.5, 1.0], 0.0, metrics_of, "rsum")
    assert tried[0.0] < tried[0.5] == tried[1.0]
    assert alpha == 1.0
