"""Backbones of the CIL pack, split as MEMO splits them: a "generalized" early part and a
"specialized" last stage. Pure torch on purpose: the Avalanche worker (its own environment,
another torch) loads this file by path, so every learner trains the same network.

- `resnet32`: the CIFAR ResNet (3 stages x 5 basic blocks, 16/32/64 channels, parameter-free
  "option A" shortcuts): 463,504 parameters without the head; generalized = stem + stages 1-2
  (112,016), specialized = stage 3 (351,488).
- `resnet18`: the ImageNet ResNet18 (1x1-conv shortcuts): 11,176,512 without the head;
  specialized = layer4.
- `mlp`: the digits ladder, `mlp<w>` for 8x8 images: generalized Linear(64,w)-ReLU-Linear(w,w)-
  ReLU, specialized Linear(w,w)-ReLU.

A spec string names a backbone: "resnet32", "resnet18", "mlp32". The head is never part of it.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F


class Split(nn.Module):
    """generalized -> specialized -> flat features of size `feat_dim`."""

    def __init__(self, generalized: nn.Module, specialized: nn.Module, feat_dim: int):
        super().__init__()
        self.generalized, self.specialized, self.feat_dim = generalized, specialized, feat_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.specialized(self.generalized(x))


class _ShortcutA(nn.Module):
    """CIFAR ResNet's parameter-free shortcut: subsample, then zero-pad the new channels."""

    def __init__(self, extra: int):
        super().__init__()
        self.extra = extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class _Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = _ShortcutA(cout - cin) if shortcut == "A" else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.short(x))


def _stage(cin: int, cout: int, blocks: int, stride: int, shortcut: str) -> nn.Sequential:
    layers = [_Basic(cin, cout, stride, shortcut)]
    layers += [_Basic(cout, cout, 1, shortcut) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def resnet_cifar(depth: int = 32, channels: int = 3) -> Split:
    n = (depth - 2) // 6
    stem = nn.Sequential(nn.Conv2d(channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                         nn.ReLU())
    gen = nn.Sequential(stem, _stage(16, 16, n, 1, "A"), _stage(16, 32, n, 2, "A"))
    spec = nn.Sequential(_stage(32, 64, n, 2, "A"), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Split(gen, spec, 64)


def resnet18(channels: int = 3) -> Split:
    stem = nn.Sequential(nn.Conv2d(channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                         nn.ReLU(), nn.MaxPool2d(3, 2, 1))
    gen = nn.Sequential(stem, _stage(64, 64, 2, 1, "B"), _stage(64, 128, 2, 2, "B"),
                        _stage(128, 256, 2, 2, "B"))
    spec = nn.Sequential(_stage(256, 512, 2, 2, "B"), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Split(gen, spec, 512)


def mlp(width: int, pixels: int = 64) -> Split:
    gen = nn.Sequential(nn.Flatten(), nn.Linear(pixels, width), nn.ReLU(),
                        nn.Linear(width, width), nn.ReLU())
    spec = nn.Sequential(nn.Linear(width, width), nn.ReLU())
    return Split(gen, spec, width)


def build(spec: str) -> Split:
    """The backbone a spec names; ValueError with the valid forms otherwise."""
    m = re.fullmatch(r"mlp(\d+)", spec)
    if m:
        return mlp(int(m.group(1)))
    m = re.fullmatch(r"resnet(8|14|20|26|32|44|56)", spec)
    if m:
        return resnet_cifar(int(m.group(1)))
    if spec == "resnet18":
        return resnet18()
    raise ValueError(f"unknown backbone {spec!r} (valid: mlp<width>, resnet8|14|20|26|32|44|56 "
                     "for CIFAR, resnet18 for ImageNet)")


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def split_counts(spec: str) -> tuple[int, int]:
    """(generalized, specialized) parameter counts of a backbone spec."""
    net = build(spec)
    return n_params(net.generalized), n_params(net.specialized)
