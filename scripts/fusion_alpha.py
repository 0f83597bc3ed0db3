"""Sweep fusion.alpha on a dataset split and print R@K per alpha (how DEFAULT_ALPHA was chosen).

python scripts/fusion_alpha.py hopid-demo/synthetic --split val --model tiny
"""

from __future__ import annotations

import argparse

from hopid.data.dataset import Dataset
from hopid.eval.evaluate import evaluate
from hopid.models.factory import load_encoder

ALPHAS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--split", default="val")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--ocr-engine", default=None)
    args = parser.parse_args(argv)
    dataset, encoder = Dataset.open(args.dataset), load_encoder(args.model)
    print(f"{'alpha':>6} {'t2i_r1':>7} {'t2i_r5':>7} {'i2t_r1':>7} {'rsum':>7}")
    for alpha in ALPHAS:
        metrics = evaluate(
            dataset, encoder, split=args.split, alpha=alpha, ocr_engine=args.ocr_engine, dense_only=alpha == 0.0
        ).metrics
        print(
            f"{alpha:>6} {metrics['t2i_r1']:>7.3f} {metrics['t2i_r5']:>7.3f} {metrics['i2t_r1']:>7.3f} "
            f"{metrics['rsum']:>7.1f}"
        )


if __name__ == "__main__":
    main()
