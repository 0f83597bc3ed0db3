"""EntityCLIP's explained loss with identity positives (``loss.explained_positives: identity``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hopid.errors import HopidError
from hopid.models.entityclip import ExplanationExperts
from hopid.train.losses import explanation_losses, info_nce, info_nce_positives, same_identity
from hopid.train.recipe import load_recipe


def _unit(*shape: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape), dim=-1)


def test_one_positive_per_row_is_plain_info_nce():
    torch.manual_seed(0)
    text, image, scale = _unit(6, 8), _unit(6, 8), torch.tensor(2.0)
    keys = torch.arange(6)
    expected = info_nce(text, image, keys, scale)
    assert torch.allclose(info_nce_positives(text, image, torch.eye(6, dtype=torch.bool), scale), expected)


def test_same_identity_marks_views_of_one_identity_and_leaves_unknown_rows_alone():
    keys = torch.tensor([0, 1, 2, 3, 3])
    identities = torch.tensor([7, 7, -100, -100, -100])
    positives = same_identity(keys, identities)
    assert positives[0, 1] and positives[1, 0]  # two views of identity 7
    assert not positives[2, 3]  # no identity: never a positive of another image
    assert positives[3, 4]  # the same image


def test_identity_positives_reward_a_query_near_every_view_of_its_identity():
    """Rows 0 and 1 are two views of one brand: a query lying between both views is a worse
    match for plain InfoNCE (the other view is a negative) and a better one with identity positives."""
    image = torch.eye(4)
    text = F.normalize(torch.tensor([[1.0, 1.0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]), dim=-1)
    keys, scale = torch.arange(4), torch.tensor(2.0)
    sharp = F.normalize(torch.tensor([[1.0, 0.1, 0, 0], [0.1, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]), dim=-1)
    positives = same_identity(keys, torch.tensor([5, 5, 6, 7]))
    assert info_nce(text, image, keys, scale) > info_nce(sharp, image, keys, scale)
    assert info_nce_positives(text, image, positives, scale) < info_nce_positives(sharp, image, positives, scale)


def test_explanation_losses_use_identities_only_for_the_explained_part():
    torch.manual_seed(0)
    experts = ExplanationExperts(8, 8, 2)
    text, image, explanation = _unit(4, 8), _unit(4, 8), torch.randn(4, 8)
    keys, scale = torch.arange(4), torch.tensor(1.0)
    kwargs = {"matching": 0.0, "enhanced": 1.0, "logit_scale": scale}
    plain = explanation_losses(experts, text, image, explanation, keys, explained=1.0, **kwargs)[1]
    same = torch.tensor([0, 0, 1, 1])
    grouped = explanation_losses(experts, text, image, explanation, keys, explained=1.0, identities=same, **kwargs)[1]
    assert grouped["loss_enhanced"] == plain["loss_enhanced"]
    assert grouped["loss_explained"] != plain["loss_explained"]


def test_recipe_takes_image_or_identity_positives_only():
    assert load_recipe("demo-tiny")["loss"]["explained_positives"] == "image"
    assert load_recipe("demo-tiny-entityclip")["loss"]["explained_positives"] == "identity"
    image = load_recipe("demo-tiny-entityclip", ["loss.explained_positives=image"])
    assert image["loss"]["explained_positives"] == "image"
    with pytest.raises(HopidError, match="explained_positives"):
        load_recipe("demo-tiny-entityclip", ["loss.explained_positives=brand"])
