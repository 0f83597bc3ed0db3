"""What a trained tagger knows, in a form that loads in milliseconds (no spaCy).

Loading spaCy costs seconds, too much for a one-off ``hopid query``. At the end of training
the run's tagger has marked every train caption; :func:`learn_light_tagger` keeps two tables
from those decisions: how often each word was marked where it occurred (the lexicon), and
how often a word right after each word was marked (triggers such as "reads" or "brand").
:class:`LightTagger` then marks a query word when

- the word was seen often enough in training: its lexicon rate is at least one half;
- an unseen (or rarely seen) word: the rule fallback marks it (quotes, capitals, digits), or
  the word before it is a trigger.

Marked words separated only by spaces or hyphens form one entity, as in the rules.
``agreement`` records the word-level precision, recall and F1 against the full tagger on the
run's val captions (docs/performance.md has the figures and their effect on retrieval).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hopid.entities.rules import rule_entities
from hopid.entities.text import STOPWORDS, Word, words
from hopid.entities.types import Entity
from hopid.errors import HopidError

SOURCE = "tagger"  # the trained tagger's knowledge, applied without spaCy
LIGHT_FILE = "light.json"
MIN_SEEN = 2  # a word seen fewer times in training is judged by the rules and triggers
MIN_TRIGGER = 3  # a trigger needs this many following words in training
RATE = 0.5
DIGITS = 3


@dataclass
class LightTagger:
    """Word-marking rates learned from a tagger's decisions (see the module docstring)."""

    words: dict[str, list[float]] = field(default_factory=dict)  # key -> [rate, times seen]
    triggers: dict[str, list[float]] = field(default_factory=dict)  # previous key -> [rate, times seen]
    agreement: dict[str, float] = field(default_factory=dict)

    def marks(self, word: Word, previous: Word | None, by_rules: bool) -> bool:
        if word.key in STOPWORDS:
            return False
        rate, seen = self.words.get(word.key, (0.0, 0))
        if seen >= MIN_SEEN:
            return rate >= RATE
        if by_rules:
            return True
        trigger = self.triggers.get(previous.key) if previous is not None else None
        return trigger is not None and trigger[0] >= RATE

    def entities_of(self, text: str) -> list[Entity]:
        """The entities of one text."""
        ruled = rule_entities(text)
        found: list[Entity] = []
        previous = None
        for word in words(text):
            by_rules = any(e.start <= word.start < e.end for e in ruled)
            if self.marks(word, previous, by_rules):
                last = found[-1] if found else None
                if last is not None and not text[last.end : word.start].strip(" -"):
                    found[-1] = Entity(text[last.start : word.end], last.start, word.end, 1.0, SOURCE)
                else:
                    found.append(Entity(word.text, word.start, word.end, 1.0, SOURCE))
            previous = word
        return found

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text (the interface of the full tagger)."""
        return [self.entities_of(t) for t in texts]

    def save(self, path: Path) -> Path:
        from hopid.data.schema import atomic_write_bytes

        text = json.dumps(asdict(self), sort_keys=True)
        atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text))
        return path

    @classmethod
    def load(cls, path: Path) -> LightTagger:
        try:
            values = json.loads(Path(path).read_text())
            return cls(dict(values["words"]), dict(values["triggers"]), dict(values.get("agreement", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HopidError(f"{path}: unreadable light tagger ({exc})") from exc


def _marked(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[Word, bool]]:
    return [(w, any(s <= w.start < e for s, e in spans)) for w in words(text)]


def learn_light_tagger(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> LightTagger:
    """The lexicon and trigger rates of a tagger whose entity ``spans`` over ``texts`` are given."""
    seen, marked, after, marked_after = Counter(), Counter(), Counter(), Counter()
    for text, found in zip(texts, spans, strict=True):
        previous = None
        for word, is_marked in _marked(text, found):
            seen[word.key] += 1
            marked[word.key] += is_marked
            if previous is not None and word.key not in STOPWORDS:
                after[previous.key] += 1
                marked_after[previous.key] += is_marked
            previous = word
    lexicon = {  # rarer words are judged by the rules and triggers: not kept
        k: [round(marked[k] / n, DIGITS), n] for k, n in seen.items() if n >= MIN_SEEN and k not in STOPWORDS
    }
    triggers = {k: [round(marked_after[k] / n, DIGITS), n] for k, n in after.items() if n >= MIN_TRIGGER}
    return LightTagger(lexicon, {k: v for k, v in triggers.items() if v[0] >= RATE})


def agreement(light: LightTagger, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> dict:
    """Word-level precision, recall and F1 of ``light`` against the tagger's ``spans``."""
    from hopid.entities.weak_labels import score_spans

    predicted = [[e.span for e in found] for found in light.entities(texts)]
    scores = score_spans(texts, spans, predicted)
    return {"precision": round(scores.precision, 4), "recall": round(scores.recall, 4), "f1": round(scores.f1, 4)}
