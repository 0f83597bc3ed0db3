import numpy as np

from hopid.scenetext.lexical import ENTITY_WEIGHT, PLAIN_WEIGHT, LexicalIndex, query_terms

OCR = {
    "platform": ["to", "Harbourfront", "PathNw"],
    "parking": ["CAUIEC", "Reserver"],
    "poster": ["Reduce", "your", "risk", "of", "coronavirusinfection"],
    "split": ["Harbour", "Front", "Buona", "Vista"],
    "blank": [],
    "cola": ["Coca-Cola", "63"],
}


def index() -> tuple[LexicalIndex, list[str]]:
    ids = list(OCR)
    rows = [(image, i, word) for image in ids for i, word in enumerate(OCR[image])]
    return LexicalIndex.from_ocr(ids, [r[0] for r in rows], [r[2] for r in rows], [r[1] for r in rows]), ids


def best(query: str, spans=()) -> tuple[str, np.ndarray]:
    lexical, ids = index()
    scores = lexical.score(query_terms(query, spans)).scores
    return ids[int(np.argmax(scores))], scores


def test_lowercase_query_finds_capitalised_ocr():
    assert best("harbourfront train platform")[0] == "platform"


def test_ocr_noise_is_tolerated():
    top, scores = best("reserved parking")
    assert top == "parking" and scores.max() > 0


def test_words_inside_merged_ocr_tokens_are_found():
    assert best("coronavirus poster")[0] == "poster"


def test_ocr_split_words_and_hyphens():
    assert best("buonavista station")[0] == "split"
    assert best("red coca cola truck")[0] == "cola"
    assert best("cocacola")[0] == "cola"


def test_numbers_need_exact_match():
    _, scores = best("jersey no 64")
    assert scores.max() == 0.0
    assert best("jersey no 63")[0] == "cola"


def test_unknown_words_score_nothing():
    _, scores = best("zzzyx qwerty")
    assert not scores.any()


def test_a_query_of_stop_words_only_searches_them():
    top, scores = best("the of and")
    assert top == "poster" and np.count_nonzero(scores) == 1  # the only image showing "of"


def test_scores_are_shares_in_unit_range():
    _, scores = best("harbourfront coronavirus")
    assert 0 < scores.max() < 1 and scores.min() >= 0


def test_entity_words_weigh_more():
    terms = query_terms('the "Zorbex" truck', [(5, 11)])
    assert [(t.word, t.weight) for t in terms] == [("Zorbex", ENTITY_WEIGHT), ("truck", PLAIN_WEIGHT)]
    # the entity word decides between two images that each match one word
    lexical = LexicalIndex.from_ocr(["a", "b"], ["a", "b"], ["Zorbex", "truck"], [0, 0])
    scores = lexical.score(terms).scores
    assert scores[0] > scores[1] > 0


def test_joined_query_words_do_not_match_loosely():
    lexical, ids = index()
    result = lexical.score(query_terms("harbourfront train"))
    row = ids.index("platform")
    assert result.matched_words(row) == ["harbourfront"]


def test_saved_tables_answer_as_the_built_ones(tmp_path):
    lexical, ids = index()
    lexical.save(str(tmp_path / "lexical.npz"))
    loaded = LexicalIndex.load(tmp_path / "lexical.npz")
    for query in ("harbourfront train", "gate 63", "Zorbex", "nothing here"):
        built, again = lexical.score(query_terms(query)), loaded.score(query_terms(query))
        assert np.array_equal(built.scores, again.scores)
        assert [built.matched_words(r) for r in range(len(ids))] == [again.matched_words(r) for r in range(len(ids))]
    empty = LexicalIndex.from_ocr(["a"], [], [], [])
    empty.save(str(tmp_path / "empty.npz"))
    assert not LexicalIndex.load(tmp_path / "empty.npz").score(query_terms("gate")).scores.any()
