"""Table schemas of the data model (docs/data-model.md) and atomic, checked Parquet I/O.

Every table hopid writes carries ``hopid.table`` and ``hopid.schema_version`` in its
Parquet metadata. Reading checks both, and that every required column is there, so a
stale or foreign file fails with one line that names the file and what to do.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from hopid.errors import HopidError

if TYPE_CHECKING:  # polars loads only where a frame is made: the cold query path reads arrow alone
    import polars as pl

SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test")
BOX = pa.list_(pa.float32(), 8)


@dataclass(frozen=True)
class TableSpec:
    """One table: its file name, its columns, and which of them may be absent."""

    name: str
    schema: pa.Schema
    optional: frozenset[str] = frozenset()

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"


def _spec(name: str, fields: list[tuple[str, pa.DataType]], optional: Iterable[str] = ()) -> TableSpec:
    return TableSpec(name, pa.schema(fields), frozenset(optional))


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "images",
            [
                ("image_id", pa.string()),
                ("path", pa.string()),
                ("split", pa.string()),
                ("width", pa.int32()),
                ("height", pa.int32()),
                ("object_id", pa.string()),
                ("subset", pa.string()),
            ],
            optional=["object_id", "subset"],
        ),
        _spec(
            "captions",
            [
                ("caption_id", pa.string()),
                ("image_id", pa.string()),
                ("text", pa.string()),
                ("split", pa.string()),
                ("explanation", pa.string()),
                ("context", pa.string()),
            ],
            optional=["explanation", "context"],
        ),
        _spec(
            "ocr",
            [
                ("image_id", pa.string()),
                ("token_index", pa.int32()),
                ("text", pa.string()),
                ("confidence", pa.float32()),
                ("box", BOX),
                ("engine", pa.string()),
            ],
        ),
        _spec(
            "entities",
            [
                ("caption_id", pa.string()),
                ("text", pa.string()),
                ("start", pa.int32()),
                ("end", pa.int32()),
                ("score", pa.float32()),
                ("source", pa.string()),
            ],
        ),
        _spec(
            "prompts",
            [("caption_id", pa.string()), ("words", pa.list_(pa.string())), ("prompt", pa.string())],
        ),
        _spec(
            "items",
            [
                ("path", pa.string()),
                ("sha", pa.string()),
                ("size", pa.int64()),
                ("mtime_ns", pa.int64()),
                ("width", pa.int32()),
                ("height", pa.int32()),
            ],
        ),
        _spec("errors", [("stage", pa.string()), ("item", pa.string()), ("reason", pa.string())]),
        _spec(
            "train_log",
            [
                ("step", pa.int64()),
                ("epoch", pa.int32()),
                ("kind", pa.string()),
                ("metric", pa.string()),
                ("value", pa.float64()),
            ],
        ),
        _spec(
            "metrics",
            [
                ("metric", pa.string()),
                ("value", pa.float64()),
                ("split", pa.string()),
                ("model", pa.string()),
                ("protocol", pa.string()),
                ("subset", pa.string()),
            ],
            optional=["protocol", "subset"],
        ),
        _spec(
            "per_query",
            [
                ("direction", pa.string()),
                ("query_id", pa.string()),
                ("first_hit_rank", pa.int32()),
                ("top1_id", pa.string()),
            ],
        ),
    )
}


def spec(name: str) -> TableSpec:
    return TABLES[name]


def table_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / TABLES[name].filename


def empty(name: str) -> pl.DataFrame:
    """An empty frame with the table's columns and types."""
    import polars as pl

    return pl.from_arrow(TABLES[name].schema.empty_table())  # type: ignore[return-value]


def conform(data: pl.DataFrame | pa.Table | list[Mapping[str, Any]], name: str) -> pa.Table:
    """Cast rows to the table's schema: required columns checked, optional ones filled
    with nulls, extra columns kept after the fixed ones."""
    table_spec = TABLES[name]
    if isinstance(data, list):
        import polars as pl

        data = pl.DataFrame(data, schema_overrides=None, infer_schema_length=None) if data else empty(name)
    table = data if isinstance(data, pa.Table) else data.to_arrow()
    columns, fields = [], []
    for field in table_spec.schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if column.type != field.type:
                try:
                    column = column.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise HopidError(f"{name}: column {field.name!r} cannot be read as {field.type}: {exc}") from exc
        elif field.name in table_spec.optional:
            column = pa.nulls(table.num_rows, field.type)
        else:
            raise HopidError(f"{name}: missing required column {field.name!r}")
        columns.append(column)
        fields.append(field)
    for extra in table.column_names:
        if extra not in table_spec.schema.names:
            columns.append(table.column(extra))
            fields.append(table.schema.field(extra))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def atomic_write_bytes(path: str | Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(data: pl.DataFrame | pa.Table | list[Mapping[str, Any]], path: str | Path, name: str) -> Path:
    """Write ``data`` as table ``name`` to ``path`` atomically, with schema metadata."""
    table = conform(data, name)
    metadata = dict(table.schema.metadata or {})
    metadata.update({b"hopid.table": name.encode(), b"hopid.schema_version": str(SCHEMA_VERSION).encode()})
    table = table.replace_schema_metadata(metadata)
    atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp))
    return Path(path)


def read_table(path: str | Path, name: str) -> pl.DataFrame:
    """Read and check table ``name``; any problem is one HopidError line naming the file."""
    import polars as pl

    return pl.from_arrow(read_arrow(path, name))  # type: ignore[return-value]


def read_arrow(path: str | Path, name: str) -> pa.Table:
    """:func:`read_table` as an arrow table (without importing polars)."""
    path = Path(path)
    if not path.is_file():
        raise HopidError(f"{path}: no such file; create it with the hopid stage that writes {name} tables")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise HopidError(f"{path}: not a readable Parquet file ({exc}); delete it and re-run the stage") from exc
    metadata = schema.metadata or {}
    version = metadata.get(b"hopid.schema_version")
    if version is not None and int(version) != SCHEMA_VERSION:
        raise HopidError(
            f"{path}: schema version {int(version)} but this hopid reads version {SCHEMA_VERSION}; "
            "re-run the stage that wrote it"
        )
    table_spec = TABLES[name]
    missing = [f.name for f in table_spec.schema if f.name not in schema.names and f.name not in table_spec.optional]
    if missing:
        raise HopidError(f"{path}: missing required column(s) {', '.join(missing)} for a {name} table")
    # ParquetFile, not pq.read_table: that goes through pyarrow.dataset, which imports pandas when
    # installed (a quarter of a second of the cold query path)
    return conform(pq.ParquetFile(path).read(), name)


def read_optional(path: str | Path, name: str) -> pl.DataFrame:
    """Like :func:`read_table`, but an absent file reads as an empty table."""
    return read_table(path, name) if Path(path).is_file() else empty(name)


def check_splits(frame: pl.DataFrame, source: str) -> None:
    bad = sorted(set(frame["split"].drop_nulls().unique().to_list()) - set(SPLITS))
    if bad or frame["split"].null_count():
        shown = ", ".join(map(repr, bad)) or "null"
        raise HopidError(f"{source}: split must be one of {', '.join(SPLITS)}, found {shown}")
