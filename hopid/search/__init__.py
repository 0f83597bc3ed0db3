"""Search: dense similarity fused with the scene-text (OCR) score."""
