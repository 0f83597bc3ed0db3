"""Entity inference over a dataset's captions (writes ``entities`` and ``prompts``) or over queries.

With a tagger directory the trained tagger marks the entities (source "tagger") and the rules
(word shape and rarity) add what it left (source "rules": a tagger learns its training captions'
wording, and misses an unseen name in a sentence written another way); without one the rules
alone do.
When asked, an installed trained spaCy pipeline adds non-overlapping evidence (source
"spacy-pretrained"); it is never required.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from hopid.data.schema import empty, read_table, table_path, write_table
from hopid.entities.prompt import hopid_prompt, prompt_words
from hopid.entities.rules import rule_entities
from hopid.entities.tagger import Tagger, load_pretrained, load_tagger, pretrained_entities
from hopid.entities.text import content_words
from hopid.entities.types import Entity
from hopid.errors import HopidError
from hopid.progress import Progress

if TYPE_CHECKING:
    from spacy.language import Language

BATCH = 2048


@dataclass
class InferSummary:
    """What ``infer_dataset`` wrote."""

    captions: int
    entities: int
    captions_with_entities: int
    source: str
    pretrained: bool
    entities_path: Path
    prompts_path: Path


def _overlaps(entity: Entity, others: Sequence[Entity]) -> bool:
    return any(entity.start < o.end and o.start < entity.end for o in others)


def add_evidence(base: list[Entity], extra: Sequence[Entity]) -> list[Entity]:
    """``base`` plus what ``extra`` adds, in text order: its entities that overlap none of
    ``base``, and of one that does, its content words that do not (the tagger found "matrekhon"
    of "matrekhon goghan": "goghan" is kept)."""
    kept: list[Entity] = []
    for entity in extra:
        if not _overlaps(entity, base):
            kept.append(entity)
            continue
        for word in content_words(entity.text):
            piece = Entity(word.text, entity.start + word.start, entity.start + word.end, entity.score, entity.source)
            if not _overlaps(piece, base):
                kept.append(piece)
    return sorted(base + kept, key=lambda e: e.start)


def infer_texts(
    texts: Sequence[str], tagger: Tagger | None = None, *, pretrained: Language | None = None
) -> list[list[Entity]]:
    """Entities of each text: from ``tagger`` when given, with the rules' entities that overlap
    none of its own (docs/unseen-words.md measures what this adds); else from the rules.

    ``pretrained`` is an optional trained spaCy pipeline (see ``tagger.load_pretrained``).
    """
    texts = list(texts)
    found = [rule_entities(t) for t in texts]
    if tagger is not None:
        found = [add_evidence(a, b) for a, b in zip(tagger.entities(texts), found, strict=True)]
    if pretrained is not None:
        found = [add_evidence(a, b) for a, b in zip(found, pretrained_entities(pretrained, texts), strict=True)]
    return found


def infer_dataset(
    dataset_dir: str | Path,
    tagger_dir: str | Path | None = None,
    *,
    pretrained: bool = False,
    progress: Progress | None = None,
) -> InferSummary:
    """Infer every caption's entities and HOPID prompt; write ``entities.parquet`` and ``prompts.parquet``."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise HopidError(f"{root}: no such dataset directory; create one with `hopid prepare`")
    captions = read_table(table_path(root, "captions"), "captions")
    tagger = load_tagger(tagger_dir) if tagger_dir is not None else None
    extra = load_pretrained() if pretrained else None
    ids, texts = captions["caption_id"].to_list(), captions["text"].to_list()
    entity_rows: list[dict] = []
    prompt_rows: list[dict] = []
    for start in range(0, len(texts), BATCH):
        batch = infer_texts(texts[start : start + BATCH], tagger, pretrained=extra)
        for caption_id, found in zip(ids[start : start + BATCH], batch, strict=True):
            entity_rows += [{"caption_id": caption_id, **asdict(e)} for e in found]
            chosen = prompt_words(found)
            prompt_rows.append({"caption_id": caption_id, "words": chosen, "prompt": hopid_prompt(chosen)})
        if progress:
            progress("captions", min(start + BATCH, len(texts)), len(texts))
    entities_path = write_table(frame(entity_rows, "entities"), table_path(root, "entities"), "entities")
    prompts_path = write_table(frame(prompt_rows, "prompts"), table_path(root, "prompts"), "prompts")
    return InferSummary(
        len(texts),
        len(entity_rows),
        len({row["caption_id"] for row in entity_rows}),
        "tagger" if tagger is not None else "rules",
        extra is not None,
        entities_path,
        prompts_path,
    )


def frame(rows: list[dict], name: str) -> pl.DataFrame:
    """Rows as a frame with the table's column types (also when there are none)."""
    schema = empty(name).schema
    return pl.DataFrame(rows, schema=schema) if rows else empty(name)
