"""The identity benchmark's knowledge: each brand's logo is drawn in every view, named by no
caption, and stated by the explanations of the captions that name the brand."""

from __future__ import annotations

import numpy as np
import polars as pl
from PIL import Image

from hopid.data.schema import read_table
from hopid.entities.text import words
from hopid.synthetic.captions import caption_vocabulary
from hopid.synthetic.heldout import write_heldout_identities
from hopid.synthetic.heldout_words import seen_in_training
from hopid.synthetic.identities import (
    LOGO_COLORS,
    LOGO_SHAPES,
    LOGO_SIZE,
    brand_facts,
    brand_slogan,
    generate_identities,
    names_brand,
)
from hopid.synthetic.words import TRAINING_VOCABULARY

SIZE = 256


def _logo_seen(path, color: str) -> bool:
    """Whether one of the four corner badges has the logo colour at its centre (every shape fills it)."""
    image = np.asarray(Image.open(path).convert("RGB"))
    side, margin = LOGO_SIZE * SIZE, 0.03 * SIZE
    starts = (margin, SIZE - margin - side)
    centres = [(int(x + side / 2), int(y + side / 2)) for x in starts for y in starts]
    return any(tuple(image[y, x]) == LOGO_COLORS[color] for x, y in centres)


def _tables(out):
    images = read_table(out / "images.parquet", "images")
    captions = read_table(out / "captions.parquet", "captions").join(images, on="image_id")
    return images, captions


def test_logo_is_drawn_explained_and_never_captioned(tmp_path):
    generate_identities(tmp_path / "k", seed=3, identities=6, views=3, size=SIZE)
    images, captions = _tables(tmp_path / "k")
    facts = {f"brand-{i:04d}": brand_facts(3, i) for i in range(6)}
    for image_id, path, object_id in images.select("image_id", "path", "object_id").iter_rows():
        assert _logo_seen(tmp_path / "k" / path, facts[object_id].logo_color), image_id
    fact_words = {*LOGO_SHAPES, "logo", "badge"}
    named = 0
    for text, explanation, object_id in captions.select("text", "explanation", "object_id").iter_rows():
        assert not fact_words & {w.key for w in words(text)}, text  # no caption names the logo
        brand = captions.filter(pl.col("object_id") == object_id)["explanation"].drop_nulls()[0].split(" is a ")[0]
        if names_brand(text, brand):
            named += 1
            assert f"logo is a {facts[object_id].logo_color} {facts[object_id].logo_shape} badge" in explanation
        else:
            assert explanation is None  # nothing for an explainer to go on
    assert named >= len(captions) // 2


def test_template_explanations_carry_no_knowledge_over_the_same_images(tmp_path):
    generate_identities(tmp_path / "k", seed=3, identities=3, views=2, size=SIZE)
    generate_identities(tmp_path / "t", seed=3, identities=3, views=2, size=SIZE, explanations="template")
    _, knowledge = _tables(tmp_path / "k")
    _, template = _tables(tmp_path / "t")
    assert knowledge["text"].to_list() == template["text"].to_list()
    for path in knowledge["path"].unique():
        assert (tmp_path / "k" / path).read_bytes() == (tmp_path / "t" / path).read_bytes()
    explained = template["explanation"].drop_nulls().to_list()
    assert explained and not [e for e in explained if "logo" in e or any(s in e for s in LOGO_SHAPES)]


def test_heldout_identities_have_explanations_and_new_brands(tmp_path):
    csv_path = write_heldout_identities(tmp_path / "heldout", identities=4, views=2)
    rows = pl.read_csv(csv_path).to_dicts()
    explained = [r for r in rows if r["explanation"]]
    assert explained and all("logo is a" in r["explanation"] for r in explained)
    heldout_brands = {r["explanation"].split(" is a ")[0].lower() for r in explained}
    assert not seen_in_training(heldout_brands)
    generate_identities(tmp_path / "train", seed=0, identities=8, views=1, size=SIZE)
    _, train = _tables(tmp_path / "train")
    train_brands = {e.split(" is a ")[0].lower() for e in train["explanation"].drop_nulls()}
    assert train_brands and not train_brands & heldout_brands
    assert not heldout_brands & caption_vocabulary()


def test_logo_only_views_hide_the_name_and_keep_the_logo(tmp_path):
    generate_identities(tmp_path / "plain", seed=3, identities=6, views=3, size=SIZE)
    generate_identities(tmp_path / "logo", seed=3, identities=6, views=3, size=SIZE, logo_only_views=1)
    images, plain_captions = _tables(tmp_path / "plain")
    _, logo_captions = _tables(tmp_path / "logo")
    assert plain_captions["text"].to_list() == logo_captions["text"].to_list()  # captions may still name it
    brand_of = {
        o: e.split(" is a ")[0]
        for o, e in plain_captions.select("object_id", "explanation").drop_nulls().unique().iter_rows()
    }
    facts = {f"brand-{i:04d}": brand_facts(3, i) for i in range(6)}
    for kind in ("plain", "logo"):
        ocr = read_table(tmp_path / kind / "ocr.parquet", "ocr")
        words_of = {i: set(t) for i, t in ocr.group_by("image_id").agg(pl.col("text")).iter_rows()}
        for object_id, views in images.group_by("object_id").agg(pl.col("image_id")).iter_rows():
            unnamed = [v for v in views if brand_of[object_id] not in words_of.get(v, set())]
            assert len(unnamed) == (1 if kind == "logo" else 0), (kind, object_id)
            for image_id in views:
                path = f"images/{image_id}.png"
                assert _logo_seen(tmp_path / kind / path, facts[object_id].logo_color), image_id
                same = (tmp_path / kind / path).read_bytes() == (tmp_path / "plain" / path).read_bytes()
                assert same == (image_id not in unnamed)  # only the logo-only view differs from the default


def test_logo_only_views_get_their_own_synthetic_cache():
    from hopid.train.loop import synthetic_cache_dir
    from hopid.train.recipe import load_recipe

    settings = load_recipe("demo-tiny-entityclip", ["data.synthetic.logo_only_views=0", "data.synthetic.slogans=false"])
    settings = settings["data"]["synthetic"]
    assert synthetic_cache_dir(settings).name == "identities-seed0-identities60-views4-size256-explanationsknowledge"
    assert synthetic_cache_dir(settings | {"logo_only_views": 1}).name.endswith("-logo_only_views1")
    assert synthetic_cache_dir(settings | {"logo_only_views": 1, "slogans": True}).name.endswith(
        "-logo_only_views1-slogansTrue"
    )


def test_slogans_stand_where_the_name_is_not_and_only_knowledge_states_them(tmp_path):
    generate_identities(tmp_path / "logo", seed=3, identities=6, views=3, size=SIZE, logo_only_views=1)
    generate_identities(tmp_path / "s", seed=3, identities=6, views=3, size=SIZE, logo_only_views=1, slogans=True)
    template = dict(explanations="template", logo_only_views=1, slogans=True)
    generate_identities(tmp_path / "t", seed=3, identities=6, views=3, size=SIZE, **template)
    images, logo_captions = _tables(tmp_path / "logo")
    _, captions = _tables(tmp_path / "s")
    assert captions["text"].to_list() == logo_captions["text"].to_list()
    ocr = read_table(tmp_path / "s" / "ocr.parquet", "ocr")
    words_of = {i: set(t) for i, t in ocr.group_by("image_id").agg(pl.col("text")).iter_rows()}
    under, slogans = 0, set()
    for i in range(6):
        object_id = f"brand-{i:04d}"
        explanation = captions.filter(pl.col("object_id") == object_id)["explanation"].drop_nulls()[0]
        brand = explanation.split(" is a ")[0]
        slogan = brand_slogan(3, i, brand, TRAINING_VOCABULARY)
        assert f'its slogan is "{slogan}"' in explanation and slogan.lower() != brand.lower()
        slogans.add(slogan)
        for image_id in images.filter(pl.col("object_id") == object_id)["image_id"]:
            path = f"images/{image_id}.png"
            same = (tmp_path / "s" / path).read_bytes() == (tmp_path / "logo" / path).read_bytes()
            written = {w for w in words_of.get(image_id, set()) if not w.isupper()}  # less the plate code
            if brand in written:  # under the name where it fits; the scene is the same either way
                assert written <= {brand, slogan} and same == (slogan not in written)
                under += slogan in written
            else:  # alone where the name is not
                assert written == {slogan} and not same
    assert under >= 6  # most of the 12 views with the name
    assert not [t for t in captions["text"] if {w.key for w in words(t)} & slogans]  # no caption says it
    _, template = _tables(tmp_path / "t")
    assert not [e for e in template["explanation"].drop_nulls() if "slogan" in e]


def test_heldout_slogans_share_nothing_with_training(tmp_path):
    csv_path = write_heldout_identities(tmp_path / "heldout", identities=6, views=2, logo_only_views=1, slogans=True)
    explained = [r["explanation"] for r in pl.read_csv(csv_path).to_dicts() if r["explanation"]]
    slogans = {e.split('slogan is "')[1].rstrip('".').lower() for e in explained}
    assert len(slogans) == 6 and not seen_in_training(slogans)


def test_prepare_synthetic_takes_slogans_with_identities_only(tmp_path):
    from typer.testing import CliRunner

    from hopid_cli.app import app

    runner = CliRunner()
    args = ["prepare", "synthetic", str(tmp_path / "s"), "--identities", "3", "--views", "2", "--size", "128"]
    result = runner.invoke(app, [*args, "--logo-only-views", "1", "--slogans"])
    assert result.exit_code == 0, result.output
    _, captions = _tables(tmp_path / "s")
    assert all('slogan is "' in e for e in captions["explanation"].drop_nulls())
    refused = runner.invoke(app, ["prepare", "synthetic", str(tmp_path / "w"), "--slogans"])
    assert refused.exit_code == 2 and "add --identities" in refused.stderr
