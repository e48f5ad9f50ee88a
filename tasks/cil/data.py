"""Class-incremental streams: scikit-learn's bundled digits (offline) and CIFAR-100 from a
local folder (the official python pickles, as torchvision's CIFAR100 reads them; never
downloaded). Images stay uint8 (C, H, W): one byte per channel value is what an exemplar
costs. A seed fixes the class order (a permutation, as PyCIL's seed-1993 shuffle); the
train/test split is stratified and the same for every seed, so seeds differ in order only.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memeval.errors import UserError

CIFAR_HELP = ("CIFAR-100 is read from a local folder holding cifar-100-python/{train,test} "
              "(the official python version, https://www.cs.toronto.edu/~kriz/cifar.html); "
              "memeval never downloads it: pass --data DIR")


@dataclass(frozen=True)
class Pool:
    """A whole dataset: x uint8 (N, C, H, W), y int64 class ids."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    pixel_max: float
    source: str
    license: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)


@dataclass(frozen=True)
class Experience:
    """One task of a stream: its classes (original ids) and their training images."""

    index: int
    classes: tuple[int, ...]
    x: np.ndarray
    y: np.ndarray


def digits(test_fraction: float = 0.25) -> Pool:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.uint8)[:, None, :, :]  # values 0..16, 8x8, one channel
    xtr, xte, ytr, yte = train_test_split(x, d.target.astype(np.int64), test_size=test_fraction,
                                          stratify=d.target, random_state=0)
    return Pool("digits", xtr, ytr, xte, yte, 10, 16.0,
                "scikit-learn load_digits (UCI optical recognition of handwritten digits)",
                "CC BY 4.0 (UCI)")


def cifar100(folder: str | Path | None) -> Pool:
    if not folder:
        raise UserError(CIFAR_HELP)
    root = Path(folder)
    base = root / "cifar-100-python" if (root / "cifar-100-python").is_dir() else root
    parts = {}
    for split in ("train", "test"):
        f = base / split
        if not f.is_file():
            raise UserError(f"{f}: missing. {CIFAR_HELP}")
        with f.open("rb") as fh:
            raw = pickle.load(fh, encoding="bytes")
        try:
            x = np.asarray(raw[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(raw[b"fine_labels"], dtype=np.int64)
        except (KeyError, ValueError) as e:
            raise UserError(f"{f}: not a CIFAR-100 python pickle ({e}). {CIFAR_HELP}") from None
        parts[split] = (x, y)
    return Pool("cifar100", *parts["train"], *parts["test"], 100, 255.0, str(base),
                "CIFAR-100 (Krizhevsky 2009), no stated license")


def class_order(n_classes: int, seed: int) -> list[int]:
    return [int(c) for c in np.random.default_rng(seed).permutation(n_classes)]


def split_tasks(order: list[int], init: int, increment: int) -> list[tuple[int, ...]]:
    """B<init> Inc<increment>: the first task's classes, then `increment` per task."""
    if init <= 0 or increment <= 0 or (len(order) - init) % increment:
        raise UserError(f"cil: {len(order)} classes do not split into a first task of {init} "
                        f"and tasks of {increment}")
    tasks = [tuple(order[:init])]
    tasks += [tuple(order[i:i + increment]) for i in range(init, len(order), increment)]
    return tasks


def remap(y: np.ndarray, order: list[int]) -> np.ndarray:
    """Original class ids -> positions in the class order (labels in order of appearance)."""
    inv = np.empty(len(order), dtype=np.int64)
    inv[np.asarray(order)] = np.arange(len(order))
    return inv[y]


def stream(pool: Pool, tasks: list[tuple[int, ...]], order: list[int]) -> list[Experience]:
    """The experiences of one class order; `tasks` hold positions in that order."""
    y = remap(pool.y_train, order)
    out = []
    for i, classes in enumerate(tasks):
        mask = np.isin(y, classes)
        out.append(Experience(i, classes, pool.x_train[mask], y[mask]))
    return out


def test_set(pool: Pool, order: list[int], seen: int) -> tuple[np.ndarray, np.ndarray]:
    """Test images of the first `seen` classes of the order, labels remapped."""
    y = remap(pool.y_test, order)
    mask = y < seen
    return pool.x_test[mask], y[mask]
