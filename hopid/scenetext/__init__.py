"""The scene-text score: query words found in an image's OCR words (:mod:`.lexical`), fused with
a model's dense score (:mod:`.fusion`). Used alike by indexing, search, evaluation and training."""
