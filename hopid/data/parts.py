"""Resumable work: results land in small Parquet part files as they are made.

A long stage (OCR, embedding) appends a part every few dozen items; each part is
written atomically, so killing the process loses at most the items in flight, and a
rerun asks :meth:`PartStore.done` what is already there. Reading keeps the last row
per key, so an item done twice is never counted twice.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hopid.data.schema import atomic_write_bytes

KEY = "key"


class PartStore:
    """A folder of Parquet parts sharing one schema with a string ``key`` column."""

    def __init__(self, directory: str | Path, schema: pa.Schema) -> None:
        self.directory = Path(directory)
        self.schema = schema

    def parts(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("part-*.parquet"), key=lambda p: p.stat().st_mtime_ns)

    def append(self, rows: list[dict], tag: str | None = None) -> None:
        """Write ``rows`` as a new part; a part ``tag``ged like an earlier one replaces it (a batch
        run again by a retry is then stored once)."""
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=self.schema)
        name = f"part-{tag or f'{os.getpid()}-{uuid.uuid4().hex[:12]}'}.parquet"
        atomic_write_bytes(self.directory / name, lambda tmp: pq.write_table(table, tmp))

    def read(self) -> pa.Table:
        """Every stored row, the last one per key winning."""
        tables = []
        for part in self.parts():
            try:
                tables.append(pq.read_table(part, schema=self.schema))
            except (pa.ArrowInvalid, OSError):
                part.unlink(missing_ok=True)  # unreadable leftovers are simply redone
        if not tables:
            return self.schema.empty_table()
        table = pa.concat_tables(tables)
        keys = table.column(KEY).to_pylist()
        last = {key: i for i, key in enumerate(keys)}
        return table.take(sorted(last.values()))

    def done(self) -> set[str]:
        return set(self.read().column(KEY).to_pylist())

    def compact(self, keep: set[str] | None = None) -> pa.Table:
        """Rewrite the store as one part (only ``keep`` keys when given); returns its rows."""
        table = self.read()
        if keep is not None:
            mask = [key in keep for key in table.column(KEY).to_pylist()]
            table = table.filter(pa.array(mask, type=pa.bool_()))
        old = self.parts()
        if len(old) == 1 and keep is None:
            return table
        name = f"part-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
        atomic_write_bytes(self.directory / name, lambda tmp: pq.write_table(table, tmp))
        for part in old:
            part.unlink(missing_ok=True)
        return table
