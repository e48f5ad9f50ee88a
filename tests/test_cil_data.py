"""The CIL streams: digits split and class orders, CIFAR-100 from a local folder in the
official python-pickle layout (a tiny folder written here in that format), and the one-line
message when the folder is missing."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from helpers import memeval
from memeval.errors import UserError
from memeval.tasks.cil import data


def test_digits_stream_covers_each_class_once_in_order():
    pool = data.digits()
    assert pool.image_shape == (1, 8, 8) and pool.x_train.dtype == np.uint8
    assert int(pool.x_train.max()) == 16 and len(pool.y_train) + len(pool.y_test) == 1797
    order = data.class_order(10, 3)
    assert sorted(order) == list(range(10)) and order != data.class_order(10, 4)
    exps = data.stream(pool, data.split_tasks(list(range(10)), 2, 2), order)
    assert [e.classes for e in exps] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sum(len(e.y) for e in exps) == len(pool.y_train)
    first = exps[0]  # positions 0 and 1 are the order's first two original classes
    originals = pool.y_train[np.isin(pool.y_train, order[:2])]
    assert sorted(np.unique(originals)) == sorted(order[:2])
    assert len(first.y) == len(originals)
    x, y = data.test_set(pool, order, 4)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert len(y) == int(np.isin(pool.y_test, order[:4]).sum())


def test_a_split_that_does_not_divide_is_refused():
    with pytest.raises(UserError, match="do not split"):
        data.split_tasks(list(range(10)), 2, 3)


def _write_cifar(root, n: int) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        labels = [i % 100 for i in range(n)]
        raw = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
               b"fine_labels": labels, b"coarse_labels": [x // 5 for x in labels]}
        with (folder / split).open("wb") as fh:
            pickle.dump(raw, fh)


def test_cifar100_reads_the_official_pickles(tmp_path):
    _write_cifar(tmp_path, 300)
    pool = data.cifar100(tmp_path)
    assert pool.image_shape == (3, 32, 32) and pool.n_classes == 100
    assert int(np.prod(pool.image_shape)) == 3072 and len(pool.y_train) == 300
    assert data.cifar100(tmp_path / "cifar-100-python").image_shape == (3, 32, 32)


def test_cifar100_without_data_says_how_in_one_line(tmp_path):
    with pytest.raises(UserError, match="never downloads"):
        data.cifar100(None)
    with pytest.raises(UserError, match="missing"):
        data.cifar100(tmp_path)
    proc = memeval("run", "--suite", "cil-cifar100", "--out", str(tmp_path / "r"), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--data DIR" in proc.stderr


@pytest.mark.slow
def test_the_cifar_path_runs_resnets_end_to_end(tmp_path):
    """The CIFAR-100 code path (3x32x32 uint8, ResNet backbones, 3,072 B exemplars) on a
    tiny folder in the official format: protocol only, the images are noise."""
    _write_cifar(tmp_path / "data", 400)
    run = tmp_path / "run"
    memeval("run", "--task", "cil:dataset=cifar100,ladder=resnet8,orders=1,epochs=1,init=50,"
            "increment=50,batch_size=64", "--data", str(tmp_path / "data"), "--system", "memo",
            "--out", str(run))
    pred = json.loads((run / "predictions.jsonl").read_text().splitlines()[0])
    assert pred["error"] is None and len(pred["meta"]["stage_accuracy"]) == 2
    plan = pred["meta"]["plan"]
    assert plan["backbone"] == "resnet8" and plan["image_shape"] == [3, 32, 32]
    # resnet8 = 74,640 parameters (stem 464 + stage1 4,672 + stage2 13,952 = 19,088;
    # stage3 55,552): DER reference with T = 2 and 2,000 exemplars of 3,072 B
    assert pred["meta"]["budget_bytes"] == 4 * 74_640 * 2 + 2000 * 3072
    assert pred["meta"]["memory"][-1]["parameter_bytes"] == 4 * (19_088 + 2 * 55_552)
