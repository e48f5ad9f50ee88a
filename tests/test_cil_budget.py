"""The MEMO paper's memory arithmetic on the real architectures, and the CIL metrics on hand
numbers (cil_budget.md). Every expected value here is the paper's or worked by hand."""

from __future__ import annotations

import pytest

from memeval.metrics import cil as m
from memeval.tasks.cil import backbones as bb
from memeval.tasks.cil.budget import (IMAGE_BYTES, Infeasible, der_budget, image_count,
                                      memo_exemplars, plan_for, single_exemplars)

COMMON = dict(n_classes=100, increment=10, image_shape=(3, 32, 32), pixel_max=255.0, seed=0,
              epochs=1, lr=0.1, batch_size=128)


def test_resnet32_is_603_cifar_images():
    g, s = bb.split_counts("resnet32")
    assert (g, s) == (112_016, 351_488)
    assert g + s == 463_504
    assert 4 * (g + s) == 1_854_016
    assert image_count(4 * (g + s), IMAGE_BYTES["cifar"]) == 603


def test_resnet18_is_296_imagenet_images():
    n = sum(bb.split_counts("resnet18"))
    assert n == 11_176_512
    assert image_count(4 * n, IMAGE_BYTES["imagenet"]) == 296


def test_cifar100_b0_inc10_aligned_exemplars():
    img, p, (g, s) = IMAGE_BYTES["cifar"], 463_504, bb.split_counts("resnet32")
    assert single_exemplars(p, 10, img) == 7_431  # iCaRL, T = 10
    assert memo_exemplars(p, g, s, 10, img) == 3_312  # MEMO, T = 10
    assert memo_exemplars(p, g, s, 20, img) == 4_771  # MEMO, T = 20


def test_plans_at_the_full_size_point_reproduce_the_papers_counts():
    counts = {b: bb.split_counts(b) for b in ("resnet20", "resnet32")}
    args = dict(point="resnet32", full="resnet32", counts=counts, tasks=10,
                image_bytes=IMAGE_BYTES["cifar"], base=2000, **COMMON)
    icarl = plan_for("icarl", "single", 1, True, **args)
    memo = plan_for("memo", "memo", 1, True, **args)
    der = plan_for("der", "der", 1, True, **args)
    assert (icarl.exemplars, memo.exemplars, der.exemplars) == (7_431, 3_312, 2_000)
    assert icarl.budget_bytes == memo.budget_bytes == der.budget_bytes \
        == 4 * 463_504 * 10 + 2000 * 3072
    assert icarl.backbone == "resnet32" and memo.backbone == "resnet32"
    small = plan_for("icarl", "single", 1, True, **{**args, "point": "resnet20"})
    # a smaller point: the DER reference's bytes, filled by the full backbone + exemplars
    budget = 4 * 269_072 * 10 + 2000 * 3072
    assert small.budget_bytes == budget and small.backbone == "resnet32"
    assert small.exemplars == (budget - 4 * 463_504) // 3072
    naive = plan_for("naive", "single", 1, False, **args)
    assert naive.exemplars == 0


def test_a_learner_whose_parameters_exceed_the_point_is_infeasible():
    counts = {b: bb.split_counts(b) for b in ("mlp16", "mlp64")}
    args = dict(full="mlp64", counts=counts, tasks=5, image_bytes=64, base=200,
                **{**COMMON, "n_classes": 10, "increment": 2, "image_shape": (1, 8, 8)})
    ewc = plan_for("ewc", "single", 3, False, point="mlp16", **args)
    assert isinstance(ewc, Infeasible)
    assert ewc.needed_bytes == 3 * 4 * 12_480 and ewc.budget_bytes == der_budget(1584, 5, 64, 200)
    assert "does not fit" in ewc.reason() and f"{ewc.needed_bytes:,}" in ewc.reason()
    assert not isinstance(plan_for("ewc", "single", 3, False, point="mlp64", **args), Infeasible)


def test_metrics_on_hand_numbers():
    stages = [1.0, 0.8, 0.6]
    assert m.average_incremental(stages) == pytest.approx(0.8)
    assert m.last(stages) == 0.6
    # task 0: best 1.0 (stage 0), final 0.5; task 1: best 0.9 (stage 1), final 0.7
    assert m.forgetting([[1.0], [0.7, 0.9], [0.5, 0.7, 0.6]]) == pytest.approx((0.5 + 0.2) / 2)
    assert m.forgetting([[0.9]]) is None
    # trapezoids: (2 - 1) * (0.5 + 0.7) / 2 + (4 - 2) * (0.7 + 0.8) / 2 = 0.6 + 1.5
    assert m.auc([4, 1, 2], [0.8, 0.5, 0.7]) == pytest.approx(2.1)
    with pytest.raises(ValueError):
        m.auc([1], [0.5])
