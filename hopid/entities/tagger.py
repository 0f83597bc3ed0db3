"""The scene-text tagger: a spaCy ``ner`` component trained from weak labels, no pretrained model.

The pipeline starts from ``spacy.blank("en")`` with one trainable ``ner`` component and
one label. It learns, from the train split's weak labels (caption words found in the
image's OCR), to mark caption words that are probably written in the image, so at query
time it works from the text alone. Epochs are selected by word-level F1 against the val
split's weak labels. A tagger directory holds ``model/`` (spaCy's own ``to_disk``
format: config, JSON and msgpack, nothing pickled) and ``tagger.json`` (report, label,
versions). spaCy is imported only inside the functions that need it.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hopid import __version__
from hopid.data.schema import SPLITS, atomic_write_bytes
from hopid.entities.text import STOPWORDS, words
from hopid.entities.types import Entity
from hopid.entities.weak_labels import Labelled, Span, SpanScores, label_dataset, score_spans
from hopid.errors import HopidError
from hopid.progress import Progress

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.training import Example

LABEL = "SCENE_TEXT"
SOURCE = "tagger"
MODEL_DIR = "model"
INFO_FILE = "tagger.json"
TRAIN_HINT = "train one with `hopid entities train DATASET --out DIR`"
PRETRAINED_SOURCE = "spacy-pretrained"
PRETRAINED_LABELS = frozenset({"ORG", "PRODUCT", "FAC", "GPE", "LOC", "WORK_OF_ART", "EVENT", "CARDINAL"})
PRETRAINED_SCORE = 0.5


@dataclass
class TaggerReport:
    """What training did: scores against the weak labels of val and test, counts, epochs."""

    val: SpanScores
    test: SpanScores
    counts: dict[str, int]
    epochs_run: int
    best_epoch: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_content(text: str) -> bool:
    return any(w.key not in STOPWORDS for w in words(text))


@dataclass
class Tagger:
    """A loaded tagger; ``entities`` runs it over texts in batches."""

    nlp: Language
    label: str = LABEL
    info: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 256

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text (score 1.0: the transition-based tagger gives no probability)."""
        return [
            [
                Entity(ent.text, ent.start_char, ent.end_char, 1.0, SOURCE)
                for ent in doc.ents
                if ent.label_ == self.label and has_content(ent.text)
            ]
            for doc in self.nlp.pipe(list(texts), batch_size=self.batch_size)
        ]

    def spans(self, texts: Sequence[str]) -> list[list[Span]]:
        return [[e.span for e in found] for found in self.entities(texts)]


def build_pipeline() -> Language:
    """A blank English pipeline with one untrained ``ner`` component and the scene-text label."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label(LABEL)
    return nlp


def make_examples(nlp: Language, labelled: Sequence[Labelled]) -> list[Example]:
    """spaCy training examples; a span is shrunk to whole tokens ("Zorbex's" -> "Zorbex")."""
    from spacy.training import Example

    examples = []
    for _, text, spans in labelled:
        reference = nlp.make_doc(text)
        ents = []
        for start, end in spans:
            span = reference.char_span(start, end, label=LABEL, alignment_mode="contract")
            if span is not None and len(span) and (not ents or span.start >= ents[-1].end):
                ents.append(span)
        reference.ents = ents
        examples.append(Example(nlp.make_doc(text), reference))
    return examples


def evaluate(tagger: Tagger, labelled: Sequence[Labelled]) -> SpanScores:
    """Word-level scores of the tagger against the weak labels of ``labelled``."""
    texts = [text for _, text, _ in labelled]
    return score_spans(texts, [spans for _, _, spans in labelled], tagger.spans(texts))


def train_tagger(
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    epochs: int = 15,
    seed: int = 0,
    batch_size: int = 16,
    dropout: float = 0.2,
    patience: int = 4,
    engine: str | None = None,
    progress: Progress | None = None,
) -> TaggerReport:
    """Train a tagger on the train split's weak labels, keep the epoch with the best val F1,
    save it under ``out_dir`` and report its scores on val and test."""
    from spacy.util import fix_random_seed, minibatch

    began = time.perf_counter()
    splits = {split: label_dataset(dataset_dir, split, engine=engine) for split in SPLITS}
    train = splits["train"]
    n_spans = sum(len(spans) for _, _, spans in train)
    if not train:
        raise HopidError(f"{dataset_dir}: no captions in the train split; the tagger learns from train captions")
    if not n_spans:
        raise HopidError(
            f"{dataset_dir}: no train caption shares a word with its image's OCR, so there is nothing to learn; "
            f"run `hopid ocr {dataset_dir}` first"
        )
    fix_random_seed(seed)
    tagger = Tagger(build_pipeline())
    examples = make_examples(tagger.nlp, train)
    optimizer = tagger.nlp.initialize(lambda: examples)
    select_on = splits["val"] or train
    rng = random.Random(seed)
    best_f1, best_epoch, best_state, stale, epoch = -1.0, 0, b"", 0, 0
    for epoch in range(1, epochs + 1):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=batch_size):
            tagger.nlp.update(batch, drop=dropout, sgd=optimizer, losses={})
        with tagger.nlp.use_params(optimizer.averages):
            f1 = evaluate(tagger, select_on).f1
            if f1 > best_f1:
                best_f1, best_epoch, best_state, stale = f1, epoch, tagger.nlp.to_bytes(), 0
            else:
                stale += 1
        if progress:
            progress("epochs", epoch, epochs)
        if stale >= patience:
            break
    tagger.nlp.from_bytes(best_state)
    counts = {f"{split}_captions": len(rows) for split, rows in splits.items()}
    counts["train_spans"] = n_spans
    report = TaggerReport(
        evaluate(tagger, splits["val"]),
        evaluate(tagger, splits["test"]),
        counts,
        epoch,
        best_epoch,
        round(time.perf_counter() - began, 2),
    )
    save_tagger(tagger, out_dir, report)
    return report


def save_tagger(tagger: Tagger, out_dir: str | Path, report: TaggerReport) -> Path:
    """Write ``model/`` (spaCy ``to_disk``) and ``tagger.json``; an old model is replaced only
    once the new one is complete."""
    import spacy

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model.", dir=out_dir))
    try:
        tagger.nlp.to_disk(staging)
        target, old = out_dir / MODEL_DIR, out_dir / f".{MODEL_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    info = {"label": tagger.label, "hopid_version": __version__, "spacy_version": spacy.__version__}
    info["report"] = report.to_dict()
    text = json.dumps(info, indent=2) + "\n"
    atomic_write_bytes(out_dir / INFO_FILE, lambda tmp: Path(tmp).write_text(text))
    tagger.info = info
    return out_dir


def load_tagger(directory: str | Path) -> Tagger:
    """Load a tagger written by :func:`train_tagger`; anything else is a HopidError."""
    directory = Path(directory)
    info_path, model_path = directory / INFO_FILE, directory / MODEL_DIR
    if not info_path.is_file() or not (model_path / "config.cfg").is_file():
        raise HopidError(f"{directory}: not a tagger directory (needs {INFO_FILE} and {MODEL_DIR}/); {TRAIN_HINT}")
    try:
        info = json.loads(info_path.read_text())
        label = str(info["label"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HopidError(f"{info_path}: unreadable tagger description ({exc}); {TRAIN_HINT}") from exc
    import spacy

    try:
        nlp = spacy.load(model_path)
    except Exception as exc:  # spaCy raises many types for a damaged or foreign model directory
        raise HopidError(f"{model_path}: the tagger model cannot be loaded ({exc}); {TRAIN_HINT}") from exc
    if "ner" not in nlp.pipe_names or label not in nlp.get_pipe("ner").labels:
        raise HopidError(f"{model_path}: no 'ner' component with label {label!r}; {TRAIN_HINT}")
    return Tagger(nlp, label, info)


def load_pretrained(name: str = "en_core_web_sm") -> Language | None:
    """An installed trained spaCy pipeline, or None when it is not installed or fails to load."""
    import spacy

    if not spacy.util.is_package(name):
        return None
    try:
        return spacy.load(name)
    except Exception:  # an optional extra: a broken install just means no extra evidence
        return None


def pretrained_entities(nlp: Language, texts: Sequence[str]) -> list[list[Entity]]:
    """Named entities of text-like kinds and proper nouns found by a trained spaCy pipeline."""
    found = []
    for doc in nlp.pipe(list(texts), batch_size=256):
        spans = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in PRETRAINED_LABELS]
        spans += [
            (t.idx, t.idx + len(t.text)) for t in doc if t.pos_ == "PROPN" and not any(s <= t.idx < e for s, e in spans)
        ]
        found.append(
            [
                Entity(doc.text[s:e], s, e, PRETRAINED_SCORE, PRETRAINED_SOURCE)
                for s, e in sorted(spans)
                if has_content(doc.text[s:e])
            ]
        )
    return found
