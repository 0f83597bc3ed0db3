"""The errors table: failed items are recorded here while the rest of a stage completes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hopid.data.schema import read_optional, table_path, write_table


@dataclass
class ErrorLog:
    """Collects ``(stage, item, reason)`` rows for one stage."""

    stage: str
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, item: str, reason: str) -> None:
        self.rows.append({"stage": self.stage, "item": str(item), "reason": reason})

    def __len__(self) -> int:
        return len(self.rows)

    def save(self, directory: str | Path) -> Path:
        """Replace this stage's rows in ``directory/errors.parquet``; other stages' rows stay."""
        path = table_path(directory, "errors")
        kept = read_optional(path, "errors").filter(pl.col("stage") != self.stage)
        new = pl.DataFrame(self.rows, schema={"stage": pl.String, "item": pl.String, "reason": pl.String})
        write_table(pl.concat([kept.select(new.columns), new]), path, "errors")
        return path
