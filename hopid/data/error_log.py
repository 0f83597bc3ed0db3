"""The errors table: failed items are recorded here while the rest of a stage completes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hopid.data.scan import stored_name
from hopid.data.schema import read_optional, table_path, write_table
from hopid.errors import HopidError


@dataclass
class ErrorLog:
    """Collects ``(stage, item, reason)`` rows for one stage."""

    stage: str
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, item: str, reason: str) -> None:
        """Record ``item`` (a name kept in :func:`~hopid.data.scan.stored_name` form) and one line of why."""
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")  # a file name not in UTF-8 within
        self.rows.append({"stage": self.stage, "item": stored_name(str(item)), "reason": reason})

    def __len__(self) -> int:
        return len(self.rows)

    def save(self, directory: str | Path) -> Path:
        """Replace this stage's rows in ``directory/errors.parquet``; other stages' rows stay
        (all of them go when the old table cannot be read: it is a report, not work)."""
        path = table_path(directory, "errors")
        try:
            kept = read_optional(path, "errors").filter(pl.col("stage") != self.stage)
        except HopidError:
            kept = pl.DataFrame(schema={"stage": pl.String, "item": pl.String, "reason": pl.String})
        new = pl.DataFrame(self.rows, schema={"stage": pl.String, "item": pl.String, "reason": pl.String})
        write_table(pl.concat([kept.select(new.columns), new]), path, "errors")
        return path
