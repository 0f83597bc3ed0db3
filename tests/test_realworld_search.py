"""Real photographs: index ../shared/realworld/scenes with the tiny model and ask what they say."""

import shutil

import pytest

from hopid.index.build import build_index
from hopid.search.searcher import Searcher

pytestmark = pytest.mark.slow
QUERIES = {
    "harbourfront train platform": "icdar15_img_10.jpg",
    "Genexis theatre": "icdar15_img_1.jpg",
    "fusionopolis building": "icdar15_img_3.jpg",
    "reserved parking caution": "icdar15_img_6.jpg",
    "citi card": "icdar15_img_7.jpg",
    "why pay for nothing": "icdar15_img_8.jpg",
    "mairie palais signpost": "paris_signpost.jpg",
    "coronavirus poster": "health_poster.png",
    "world health organization": "health_poster.png",
    "retail carpark": "icdar15_img_1.jpg",
}


def test_right_photo_first_for_most_queries(realworld, tmp_path, tiny_encoder):
    photos = tmp_path / "scenes"
    shutil.copytree(realworld / "scenes", photos)  # a writable copy: the index lives beside the photos
    build_index(photos, tiny_encoder)
    searcher = Searcher(photos / ".hopid", encoder=tiny_encoder)
    right = {q: searcher.search(q, k=1)[0].path.endswith(name) for q, name in QUERIES.items()}
    assert sum(right.values()) >= 8, right
