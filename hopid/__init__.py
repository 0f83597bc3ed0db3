"""hopid: scene-text-aware and entity-aware text-image retrieval."""

__version__ = "0.1.0"
