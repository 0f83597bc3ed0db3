"""A few HOPID training steps with AMP on a CUDA GPU (skipped where there is none)."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here"),
]


def test_amp_training_on_the_gpu(tmp_path, monkeypatch):
    from hopid.train.loop import train
    from hopid.train.recipe import load_recipe

    monkeypatch.setenv("HOPID_CACHE", str(tmp_path / "cache"))
    recipe = load_recipe(
        "demo-tiny",
        [
            "data.synthetic.groups=12",
            "data.synthetic.variants=4",
            "tagger.epochs=2",
            "train.epochs=2",
            "train.batch_size=32",
            "train.device=cuda",
            "train.amp=on",
        ],
    )
    summary = train(recipe, tmp_path / "run")
    assert summary.steps > 0
    assert all(v == v for v in summary.metrics["dense"].values())  # no NaN under AMP
    assert json.loads((tmp_path / "run" / "run.json").read_text())["dim"] == 384  # 3 x 128: with the spelling channel
