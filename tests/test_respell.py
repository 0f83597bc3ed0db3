"""The re-spelling augmentation (hopid.train.respell): a consistent, shape-keeping cipher that never
writes a held-out word, drawn per step the same way on every run."""

from __future__ import annotations

import random

from hopid.synthetic.heldout_style_words import style_of
from hopid.synthetic.heldout_styles import plan_brands, plan_signs
from hopid.synthetic.words import TRAINING_VOCABULARY, WORD_KINDS
from hopid.train.respell import random_cipher, step_cipher


def kinds(text: str) -> list[str]:
    return ["digit" if c.isdigit() else "vowel" if c.lower() in "aeiouy" else "consonant" for c in text]


def test_the_cipher_keeps_a_words_shape_and_its_look_alikes_one_letter_apart():
    cipher = random_cipher(random.Random(3))
    for word in ("Zorbex", "ZORBEX", "zorbex", "KX482", "5517"):
        out = cipher(word)
        assert len(out) == len(word) and kinds(out) == kinds(word)
        assert [c.isupper() for c in out] == [c.isupper() for c in word]
    assert cipher("Zorbex").lower() == cipher("zorbex") == cipher("ZORBEX").lower()  # one word, one spelling
    near, far = cipher("zorbex"), cipher("zarbex")
    assert sum(a != b for a, b in zip(near, far, strict=True)) == 1
    assert len({cipher(w) for w in ("zorbex", "zarbex", "stadrek", "vorunak")}) == 4  # a bijection
    assert {cipher("fresh"), cipher("coffee"), cipher("city")} == {"fresh", "coffee", "city"}  # unshuffled letters
    assert any(random_cipher(random.Random(s))("zorbex") != "zorbex" for s in range(3))


def test_a_step_draws_the_same_cipher_on_every_run_and_rate_sets_how_often():
    assert step_cipher(0, 7, 1.0)("vorunak") == step_cipher(0, 7, 1.0)("vorunak")
    assert len({step_cipher(0, s, 1.0)("vorunak") for s in range(20)}) > 10
    assert all(step_cipher(0, s, 0.0) is None for s in range(50))
    drawn = sum(step_cipher(1, s, 0.5) is not None for s in range(400))
    assert 150 < drawn < 250


def test_re_spelt_training_words_are_never_held_out_words():
    rng = random.Random(5)
    words = [TRAINING_VOCABULARY.word(rng, kind) for _ in range(1500) for kind in WORD_KINDS]
    words += [TRAINING_VOCABULARY.code(rng) for _ in range(1500)]
    tokens = {t for w in words for t in w.split()}
    held_out = {w.lower() for plan in (plan_brands, plan_signs) for p in plan() for w in p.board.words}
    changed = 0
    for seed in range(20):
        cipher = random_cipher(random.Random(seed))
        for token in tokens:
            out = cipher(token)
            changed += out != token
            assert style_of(out) in {"training", None}, (token, out)
            assert out.lower() not in held_out
    assert changed > 0.5 * 20 * len(tokens)
