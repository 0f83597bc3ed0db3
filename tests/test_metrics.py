import numpy as np
import pytest

from hopid.eval.metrics import caption_protocol, i2t_ranks, identity_protocol, recall_at, t2i_ranks


def test_t2i_and_i2t_ranks_by_hand():
    # 4 captions (2 per image) x 2 images
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.5]])
    caption_image = np.array([0, 0, 1, 1])
    assert t2i_ranks(scores, caption_image).tolist() == [1, 2, 1, 2]
    # image 0: its captions score 0.9 and 0.2 -> best 0.9 is top of column 0 -> rank 1
    # image 1: its captions score 0.7, 0.5; column 1 is [0.1, 0.8, 0.7, 0.5] -> 0.7 ranks 2nd
    assert i2t_ranks(scores, caption_image).tolist() == [1, 2]


def test_ties_count_against_the_query():
    scores = np.zeros((2, 3))
    assert t2i_ranks(scores, np.array([0, 1])).tolist() == [3, 3]


def test_an_image_is_not_pushed_down_by_its_own_tied_captions():
    # 10 captions, 2 images; captions 0-4 are image 0's, two of them tie at its best score
    column = np.array([0.9, 0.9, 0.5, 0.4, 0.3, 0.1, 0.2, 0.15, 0.05, 0.0])
    scores = np.stack([column, np.zeros(10)], axis=1)
    caption_image = np.array([0] * 5 + [1] * 5)
    assert i2t_ranks(scores, caption_image)[0] == 1
    assert caption_protocol(scores, caption_image, ks=(1,))["i2t_r1"] == 0.5  # image 1's own captions tie at 0
    # another image's caption tied with the best own caption still counts against it
    column[5] = 0.9
    assert i2t_ranks(np.stack([column, np.zeros(10)], axis=1), caption_image)[0] == 2


def test_caption_protocol_rsum_is_six_recalls_times_100():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.5]])
    metrics = caption_protocol(scores, np.array([0, 0, 1, 1]), ks=(1, 5, 10))
    assert metrics["t2i_r1"] == pytest.approx(0.5)
    assert metrics["i2t_r1"] == pytest.approx(0.5)
    assert metrics["t2i_r5"] == metrics["i2t_r10"] == 1.0
    assert metrics["rsum"] == pytest.approx(100 * (0.5 + 1 + 1 + 0.5 + 1 + 1))


def test_recall_ignores_queries_without_positives():
    assert recall_at(np.array([1, 0, 3]), ks=(1, 3)) == {1: 0.5, 3: 1.0}


def test_identity_protocol_by_hand():
    # one query of identity "a"; gallery a, b, a, b ranked by score: b(0.9) a(0.8) b(0.7) a(0.1)
    scores = np.array([[0.8, 0.9, 0.1, 0.7]])
    metrics = identity_protocol(scores, ["a"], ["a", "b", "a", "b"], ks=(1, 2))
    assert metrics["rank1"] == 0.0 and metrics["rank2"] == 1.0
    # positives at ranks 2 and 4: AP = (1/2 + 2/4) / 2 = 0.5; mINP = 2 / 4
    assert metrics["map"] == pytest.approx(0.5)
    assert metrics["minp"] == pytest.approx(0.5)


def test_identity_protocol_perfect_and_skips_queries_without_hits():
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    metrics = identity_protocol(scores, ["x", "y", "z"], ["x", "y"], ks=(1,))
    assert metrics == {"rank1": 1.0, "map": 1.0, "minp": 1.0}


def test_fold_average_scores_each_fold_against_its_own_images():
    import numpy as np
    import pytest

    from hopid.errors import HopidError
    from hopid.eval.metrics import fold_average

    # 4 images, one caption each; caption 1 prefers image 2 (another fold), caption 3 prefers image 2 (same fold)
    scores = np.eye(4)
    scores[1, 2] = 2.0
    scores[3, 2] = 2.0
    caption_image = np.arange(4)
    whole = fold_average(scores, caption_image, 1)
    assert whole["t2i_r1"] == 0.5
    halves = fold_average(scores, caption_image, 2)
    assert halves["t2i_r1"] == pytest.approx((1.0 + 0.5) / 2)  # image 2 is out of caption 1's fold
    with pytest.raises(HopidError, match="equal folds"):
        fold_average(scores, caption_image, 3)


@pytest.mark.parametrize("gallery", [["a", "b"], ["b", "a"]])
def test_identity_ties_count_against_the_query_whatever_the_gallery_order(gallery):
    metrics = identity_protocol(np.zeros((1, 2)), ["a"], gallery, ks=(1, 2))
    assert metrics["rank1"] == 0.0 and metrics["rank2"] == 1.0
    assert metrics["map"] == pytest.approx(0.5) and metrics["minp"] == pytest.approx(0.5)


def test_identity_ties_among_hits_only_do_not_cost_anything():
    metrics = identity_protocol(np.array([[0.5, 0.5, 0.1]]), ["a"], ["a", "a", "b"], ks=(1,))
    assert metrics == {"rank1": 1.0, "map": 1.0, "minp": 1.0}
