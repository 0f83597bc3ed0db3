"""The word-retrieval protocol: query rules of the literature, AP by hand, short queries searched whole."""

import numpy as np
import pytest

from hopid.errors import HopidError
from hopid.eval.words import average_precision, build_queries, mstar_words, query_rule, svt_words
from hopid.scenetext.lexical import LexicalIndex, ocr_word_matches, query_terms, token_parts


def test_average_precision_by_hand():
    # ranked: 0 (0.9), 1 (0.8), 2 (0.7), 3 (0.6); relevant at ranks 2 and 4: (1/2 + 2/4) / 2
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), [1, 3]) == pytest.approx(0.5)
    # relevant at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.1, 0.5]), [0, 1]) == pytest.approx((1 + 2 / 3) / 2)


def test_average_precision_ties_count_against_the_query():
    assert average_precision(np.zeros(4), [2]) == pytest.approx(0.25)
    # one irrelevant image tied with the relevant one ranks above it, a lower one does not
    assert average_precision(np.array([0.5, 0.5, 0.1]), [1]) == pytest.approx(0.5)


def test_mstar_rule_lowercases_drops_characters_splits_and_keeps_three_letters():
    assert mstar_words("Genaxis Theatre") == ["genaxis", "theatre"]
    assert mstar_words("EXIT!") == ["exit"]
    assert mstar_words("AT&T") == ["att"]  # "&" is dropped, not a separator: MSTAR's rule
    assert mstar_words("$5.99 to go") == ["599"]
    assert mstar_words("###") == []
    assert svt_words("LIVING") == ["living"] and svt_words("###") == []


def test_queries_rank_by_image_count_then_alphabetically_and_top_cuts():
    words_of = {
        "a": ["EXIT", "The End"],
        "b": ["exit", "Bus"],
        "c": ["Exit.", "bus", "end"],
        "d": [],  # an image without words is still ranked
    }
    queries = build_queries(["a", "b", "c", "d"], words_of, "mstar", None)
    assert [(q.word, q.relevant) for q in queries] == [
        ("exit", (0, 1, 2)),
        ("bus", (1, 2)),
        ("end", (0, 2)),
        ("the", (0,)),
    ]
    assert [q.word for q in build_queries(["a", "b", "c", "d"], words_of, "mstar", 2)] == ["exit", "bus"]
    # SVT keeps the word as annotated, lower-cased: "exit." stays apart from "exit"
    svt = build_queries(["a", "b", "c"], words_of, "svt", None)
    assert [(q.word, q.relevant) for q in svt][:3] == [("bus", (1, 2)), ("exit", (0, 1)), ("end", (2,))]


def test_query_rule_defaults_and_choices():
    assert query_rule("icdar15", None) == ("mstar", 100)
    assert query_rule("icdar15", "all") == ("mstar", None)
    assert query_rule("svt", None) == ("svt", None)
    assert query_rule(None, "20") == ("mstar", 20)
    with pytest.raises(HopidError, match="--queries"):
        query_rule("svt", "most")


def test_one_or_two_word_queries_and_quotes_keep_stop_words():
    assert [t.word for t in query_terms("the")] == ["the"]
    assert [t.word for t in query_terms("exit here")] == ["exit", "here"]
    assert [t.word for t in query_terms("a sign by the road")] == ["road"]
    assert [t.word for t in query_terms('shop called "for you"')] == ["shop", "called", "for", "you"]
    assert [t.word for t in query_terms("all of the more")] == ["all", "of", "the", "more"]  # nothing else to search


def test_a_stop_word_query_finds_the_image_that_shows_it():
    lexical = LexicalIndex.from_tokens(3, [0, 1, 2], ["THE", "then", "cafe"], [0, 0, 0])
    scores = lexical.score(query_terms("the")).scores
    assert scores[0] > scores[1] > 0 and scores[2] == 0.0  # the word itself above a word starting with it


def test_words_glued_in_one_ocr_token_are_found():
    assert token_parts("Shop&Dine") == ["shop", "dine"]
    assert token_parts("10%OFF") == ["10", "off"]
    assert token_parts("FOR$128NETT") == ["for", "128", "nett"]
    assert token_parts("BlueCollar") == ["blue", "collar"]
    assert token_parts("ShopSDine") == ["shop", "s", "dine"]
    assert token_parts("harbour") == []
    tokens = ["Shop&Dine", "DAYSINN", "#10-10to", "inn", "nothing"]
    lexical = LexicalIndex.from_tokens(5, range(5), tokens, [0] * 5)
    for query, row in (("dine", 0), ("off", None), ("10-10", 2)):
        scores = lexical.score(query_terms(query)).scores
        assert (np.flatnonzero(scores).tolist() == [row]) if row is not None else not scores.any()
    # "inn" at the end of "DAYSINN" is found, below the image showing "inn" alone
    scores = lexical.score(query_terms("inn")).scores
    assert scores[3] > scores[1] > 0 and np.count_nonzero(scores) == 2


def test_a_confident_reading_ranks_above_a_doubtful_one():
    lexical = LexicalIndex.from_tokens(2, [0, 1], ["EXIT", "EXIT"], [0, 0], [0.55, 0.98])
    scores = lexical.score(query_terms("exit")).scores
    assert scores[1] > scores[0] > 0.9


def test_saved_tables_round_trip_and_an_old_format_is_rebuilt(tmp_path):
    lexical = LexicalIndex.from_tokens(2, [0, 1], ["Shop&Dine", "EXIT"], [0, 0], [0.9, 0.7])
    lexical.save(str(tmp_path / "lexical.npz"))
    loaded = LexicalIndex.load(tmp_path / "lexical.npz")
    assert loaded.vocabulary == lexical.vocabulary
    assert np.allclose(loaded.score(query_terms("dine")).scores, lexical.score(query_terms("dine")).scores)
    np.savez(
        tmp_path / "old.npz", n_images=np.int64(2), vocabulary=np.asarray(["exit"]), vocab_start=[0, 1], vocab_rows=[1]
    )
    assert LexicalIndex.load(tmp_path / "old.npz") is None


def test_one_wrong_letter_ranks_below_every_closer_match_and_short_words_stay_strict():
    tokens = ["GET", "GFT", "GETAWAY", "cat"]
    lexical = LexicalIndex.from_tokens(4, range(4), tokens, [0] * 4)
    scores = lexical.score(query_terms("get")).scores
    assert scores[0] > scores[2] > scores[1] > 0  # exact, then at the start of a word, then one letter off
    assert scores[3] == 0.0  # two letters off: no match at all
    two_letters = LexicalIndex.from_tokens(2, [0, 1], ["to", "ta"], [0, 0])
    assert np.flatnonzero(two_letters.score(query_terms("to")).scores).tolist() == [0]


def test_a_number_with_a_percent_sign_is_searched_with_its_sign():
    tokens = ["L10", "10%OFF", "#10-10", "100%", "Sale 10 %"]
    lexical = LexicalIndex.from_tokens(5, range(5), tokens, [0] * 5)
    scores = lexical.score(query_terms("10%")).scores
    assert min(scores[1], scores[4]) > max(scores[0], scores[2], scores[3])  # the sign written in the scene
    assert scores[3] < 0.6  # "100%" is another number, at most a loose match
    assert np.count_nonzero(lexical.score(query_terms("10")).scores) == 4  # no sign typed: every 10 counts


def test_a_long_word_cut_by_its_box_is_found_below_whole_words():
    tokens = ["ARBUCKSCOFFEE", "STARBUCKS", "restaura", "UCKSCOFFEE", "owerxyzq"]
    lexical = LexicalIndex.from_tokens(5, range(5), tokens, [0] * 5)
    scores = lexical.score(query_terms("starbucks")).scores
    assert scores[1] > scores[0] > 0 and scores[3] == 0.0  # 7 of 9 letters kept; 4 of 9 is too few
    assert lexical.score(query_terms("restaurant")).scores[2] > 0
    assert not lexical.score(query_terms("tower")).scores.any()  # words under six letters are not cut-matched
    assert ocr_word_matches("ARBUCKSCOFFEE", ["starbucks"]) and not ocr_word_matches("UCKSCOFFEE", ["starbucks"])


def test_letters_of_a_widely_spaced_sign_are_joined():
    rows = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    tokens = ["WHOLE", "FOODS", "M", "A", "R", "K", "ET", "M", "A", "R", "K", "ET"]
    lexical = LexicalIndex.from_tokens(3, rows, tokens, list(range(len(rows))))
    joined = lexical.vocabulary.index("market")  # one image's letters join, never two images' letters
    assert lexical.vocab_rows[lexical.vocab_start[joined] : lexical.vocab_start[joined + 1]].tolist() == [2]
    assert np.argmax(lexical.score(query_terms("market")).scores) == 2
