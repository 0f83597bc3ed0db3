"""MMRef and EntityCLIP trained as their demo recipes say, checked on a held-out identity set
(unseen brands, some captions naming no brand) brought as a folder + captions.csv with object_id."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hopid.synthetic.heldout import write_heldout_identities
from hopid_cli.app import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_mmref_reference_reranking_lifts_map_on_unseen_brands(tmp_path, monkeypatch):
    monkeypatch.setenv("HOPID_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "mmref"
    invoke("train", "demo-tiny-mmref", "--out", run)
    info = json.loads((run / "run.json").read_text())
    assert info["references"] >= 30 and info["rerank"]["beta"] > 0  # k and beta were chosen on val
    assert {info["rerank"]["query"], info["rerank"]["fused"]["query"]} <= {"caption", "top"}  # and apart for fused

    source = tmp_path / "source"
    captions = write_heldout_identities(source)
    dataset = tmp_path / "heldout"
    invoke("prepare", "folder", source / "images", dataset, "--captions", captions)
    plain = json.loads(invoke("eval", dataset, "--model", run, "--dense-only", "--json").stdout)
    reranked = json.loads(
        invoke("eval", dataset, "--model", run, "--dense-only", "--json", "--rerank", "reference").stdout
    )
    assert reranked["map"] >= plain["map"] + 0.01, (plain, reranked)
    # Rank-1 is not asserted: on unseen identities it moves by a query either way with the OCR
    # reading of the held-out photos (0.683 -> 0.675 after the three-cut reading, >= before);
    # issue 18 measures it over three seeds.

    index = invoke("index", source / "images", "--model", run)
    assert index.exit_code == 0
    hits = json.loads(
        invoke("query", "a truck", "--index", source / "images" / ".hopid", "--json", "--rerank", "reference").stdout
    )
    assert len(hits) == 10
    from hopid.models.run import RunEncoder
    from hopid.search.query_encoder import open_query_encoder

    full = RunEncoder(run)
    light = open_query_encoder(source / "images" / ".hopid", full.spec, full.fingerprint)
    vectors = full.encode_texts(["a truck", "a box that reads Zorbex"])
    assert abs(light.reference_profiles(vectors) - full.reference_profiles(vectors)).max() < 1e-5
    assert light.rerank_defaults == info["rerank"]
    refused = runner.invoke(
        app, ["query", "a truck", "--index", str(source / "images" / ".hopid"), "--explanation", "Zorbex is a soda."]
    )
    assert refused.exit_code != 0 and "explained queries need" in refused.stderr


def test_entityclip_trains_on_explanations_and_serves_without_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HOPID_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "entityclip"
    invoke("train", "demo-tiny-entityclip", "--out", run, "--set", "train.epochs=3")
    from hopid.data.schema import read_table

    log = read_table(run / "train_log.parquet", "train_log")
    assert {"loss_matching", "loss_enhanced", "loss_explained"} <= set(log["metric"])  # trained on explanations
    images = tmp_path / "images"
    captions = write_heldout_identities(images, identities=4, views=2)
    dataset = tmp_path / "heldout"
    invoke("prepare", "folder", images / "images", dataset, "--captions", captions)
    explained = json.loads(invoke("eval", dataset, "--model", run, "--dense-only", "--explained", "--json").stdout)
    assert 0 < explained["map"] <= 1
    from hopid.models.run import RunEncoder

    encoder = RunEncoder(run)
    texts = ["a mug of Qojzal", "a red bus", "a mug of Qojzal"]
    explanations = [
        'Qojzal is a coffee brand; its slogan is "Zubrak".',
        None,
        "Qojzal is a coffee brand; its name appears on mugs.",
    ]
    explained = encoder.encode_explained(texts, explanations)
    moved = (encoder.encode_texts(texts) * explained).sum(axis=1)
    assert moved[0] < 0.9999  # the explanation reaches the query
    assert encoder.config.explained_words  # the recipe's: the slogan is looked for as scene text
    without = encoder.encode_explained(texts, explanations, explained_words=False)
    change = 1 - (explained * without).sum(axis=1)
    assert change[0] > 1e-4 and abs(change[1:]).max() < 1e-5  # only where the explanation adds a word
    refused = runner.invoke(app, ["eval", str(dataset), "--model", "tiny", "--dense-only", "--explained"])
    assert refused.exit_code != 0 and "explained queries need" in refused.stderr
    invoke("index", images / "images", "--model", run)
    hits = json.loads(invoke("query", "a red bus", "--index", images / "images" / ".hopid", "--json").stdout)
    assert len(hits) == 8 and all(h["path"].endswith(".png") for h in hits)
    index = images / "images" / ".hopid"
    told = ["query", "a mug of Qojzal", "--index", index, "--json", "--dense-only"]
    plain = json.loads(invoke(*told).stdout)
    explained = json.loads(invoke(*told, "--explanation", explanations[0]).stdout)
    assert len(explained) == 8 and [h["dense"] for h in explained] != [h["dense"] for h in plain]
    refused = runner.invoke(app, ["query", "a mug", "--index", str(index), "--explanation", "  "])
    assert refused.exit_code != 0 and "explanation is empty" in refused.stderr
    refused = runner.invoke(
        app, ["query", "a red bus", "--index", str(images / "images" / ".hopid"), "--rerank", "reference"]
    )
    assert refused.exit_code == 2 and "mmref" in refused.stderr
