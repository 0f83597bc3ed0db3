"""The progress callback of long library work: ``progress(stage, done, total)``.

``stage`` names the step (``ocr``, ``images``, ``train``, ...); the CLI draws one bar per stage.
The library never prints: it only calls this when given one.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
