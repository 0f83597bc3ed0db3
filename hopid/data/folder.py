"""``hopid prepare folder``: any folder of images, with optional captions, as a dataset."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hopid.data.error_log import ErrorLog
from hopid.data.images import upright_size
from hopid.data.scan import image_file, scan_images, stored_name
from hopid.data.schema import SPLITS, table_path, write_table
from hopid.errors import HopidError

DEFAULT_COLUMNS = {
    "image": "image",
    "caption": "caption",
    "split": "split",
    "object_id": "object_id",
    "explanation": "explanation",
}
REQUIRED = ("image", "caption")


@dataclass
class FolderSummary:
    out: Path
    images: int
    captions: int
    errors: int
    notes: list[str] = field(default_factory=list)


def read_captions_file(path: Path) -> pl.DataFrame:
    """A captions CSV (or TSV) or JSON Lines file, every column as text."""
    if not path.is_file():
        raise HopidError(f"{path}: captions file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
        elif suffix in (".csv", ".tsv", ".txt"):
            frame = pl.read_csv(path, separator="\t" if suffix == ".tsv" else ",", infer_schema=False)
        else:
            raise HopidError(f"{path}: captions must be .csv, .tsv or .jsonl")
    except (pl.exceptions.PolarsError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HopidError(f"{path}: cannot parse captions file: {exc}") from exc
    return frame.select(pl.all().cast(pl.String))


def prepare_folder(
    images_dir: str | Path,
    out: str | Path,
    captions: str | Path | None = None,
    columns: dict[str, str] | None = None,
) -> FolderSummary:
    """Scan ``images_dir`` recursively into ``out``'s images table, captions from ``captions``."""
    images_dir, out = Path(images_dir).resolve(), Path(out).resolve()
    if not images_dir.is_dir():
        raise HopidError(f"{images_dir}: no such folder")
    names = DEFAULT_COLUMNS | (columns or {})
    errors = ErrorLog("prepare")
    notes: list[str] = []

    image_rows: dict[str, dict] = {}
    for image in scan_images(images_dir, errors):  # names in stored form: any file name is kept exactly
        full = image_file(images_dir, image.path)
        try:
            width, height = upright_size(full)
        except Exception as exc:  # Pillow raises many types for unreadable headers
            errors.add(image.path, f"not a readable image: {exc}")
            continue
        image_rows[image.path] = {
            "image_id": image.path,
            "path": stored_name(os.path.relpath(full, out)),
            "split": "test",
            "width": width,
            "height": height,
            "object_id": None,
        }

    caption_rows: list[dict] = []
    if captions is not None:
        captions_path = Path(captions).resolve()
        frame = read_captions_file(captions_path)
        missing = [names[c] for c in REQUIRED if names[c] not in frame.columns]
        if missing:
            raise HopidError(
                f"{captions_path}: missing column(s) {', '.join(missing)} "
                f"(found: {', '.join(frame.columns) or 'none'}); "
                "rename them or pass --image-column/--caption-column"
            )
        extra = [c for c in frame.columns if c not in names.values()]
        if extra:
            notes.append(f"ignored extra caption columns: {', '.join(extra)}")
        has_split = names["split"] in frame.columns
        seen_split: dict[str, str] = {}
        counts: dict[str, int] = {}
        for line, row in enumerate(frame.iter_rows(named=True), start=2):
            reference, text = row[names["image"]], (row[names["caption"]] or "").strip()
            where = f"{captions_path.name}:{line}"
            if not reference:
                errors.add(where, "no image named")
                continue
            target = (captions_path.parent / reference).resolve()
            try:
                image_id = stored_name(target.relative_to(images_dir).as_posix())
            except ValueError:
                image_id = None
            if image_id not in image_rows:
                errors.add(where, f"image {reference} not found in {images_dir}")
                continue
            if not text:
                errors.add(where, "empty caption")
                continue
            split = (row.get(names["split"]) or "test").strip().lower() if has_split else "test"
            if split not in SPLITS:
                errors.add(where, f"split {split!r} is not one of {', '.join(SPLITS)}")
                continue
            if seen_split.setdefault(image_id, split) != split:
                errors.add(where, f"image {image_id} already in split {seen_split[image_id]}; caption skipped")
                continue
            image_rows[image_id]["split"] = split
            object_id = row.get(names["object_id"])
            if object_id:
                image_rows[image_id]["object_id"] = str(object_id)
            counts[image_id] = counts.get(image_id, 0) + 1
            caption_rows.append(
                {
                    "caption_id": f"{image_id}#{counts[image_id] - 1}",
                    "image_id": image_id,
                    "text": text,
                    "split": split,
                    "explanation": row.get(names["explanation"]) or None,
                }
            )

    out.mkdir(parents=True, exist_ok=True)
    write_table(list(image_rows.values()) or [], table_path(out, "images"), "images")
    write_table(caption_rows, table_path(out, "captions"), "captions")
    errors.save(out)
    return FolderSummary(out, len(image_rows), len(caption_rows), len(errors), notes)
