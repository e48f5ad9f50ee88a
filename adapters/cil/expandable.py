"""memeval's own model-expansion learners (neither is in Avalanche), after Zhou et al. 2023:

- `der`: DER, the dynamically expandable representation (Yan et al. 2021; NOT Avalanche's
  `DER`, which is Dark Experience Replay): one new backbone per task, initialised from the
  last, old ones frozen; features concatenated into one linear head; an auxiliary head
  (new classes + one "old" class) on the new features.
- `memo`: MEMO: the generalized block (early layers) is shared and keeps training
  (PyCIL's train_base), and each task adds one specialized block (the last stage),
  initialised from the last, old ones frozen; the same heads as DER.

Both keep exemplars by herding (iCaRL's rule, on the current features), a fixed total split
evenly over the classes seen. Simplifications, stated: no DER mask pruning, no weight
aligning, no data augmentation, constant learning rate.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from memeval.adapters.cil.base import LearnerBase
from memeval.contracts import SystemContext
from memeval.tasks.cil import backbones as bb
from memeval.tasks.cil.budget import Architecture, LearnerPlan


class _Net(nn.Module):
    def __init__(self, shared: nn.Module | None, branches: list[nn.Module], feat: int,
                 n_classes: int):
        super().__init__()
        self.shared = shared
        self.branches = nn.ModuleList(branches)
        self.head = nn.Linear(feat * len(branches), n_classes)
        self.aux = nn.Linear(feat, 1)  # resized per task

    def features(self, x: torch.Tensor) -> torch.Tensor:
        base = self.shared(x) if self.shared is not None else x
        return torch.cat([b(base) for b in self.branches], dim=1)


class ExpandableLearner(LearnerBase):
    share_generalized: ClassVar[bool]

    def __init__(self, ctx: SystemContext | None = None, threads: int = 1,
                 aux_weight: float = 1.0, train_base: bool = True, epochs: int | None = None,
                 lr: float | None = None) -> None:
        self.own_schedule = {k: v for k, v in (("epochs", epochs), ("lr", lr)) if v is not None}
        self.threads, self.aux_weight, self.train_base = int(threads), float(aux_weight), \
            bool(train_base)
        self.net: _Net | None = None

    def begin(self, plan: LearnerPlan) -> None:
        torch.set_num_threads(self.threads)
        self.plan, self.seen = plan, 0
        self.gen = torch.Generator().manual_seed(plan.seed)
        torch.manual_seed(plan.seed)
        self.template = bb.build(plan.backbone)
        self.net = None
        self.mem_x = np.zeros((0, *plan.image_shape), dtype=np.uint8)
        self.mem_y = np.zeros(0, dtype=np.int64)

    def _x(self, x: np.ndarray) -> torch.Tensor:
        assert self.plan is not None
        return torch.from_numpy(x.astype(np.float32) / self.plan.pixel_max)

    def _expand(self) -> _Net:
        assert self.plan is not None
        t = self.template
        if self.net is None:
            shared = t.generalized if self.share_generalized else None
            first = t.specialized if self.share_generalized else t
            return _Net(shared, [first], t.feat_dim, self.plan.n_classes)
        old = self.net
        new_branch = copy.deepcopy(old.branches[-1])
        net = _Net(old.shared, [*old.branches, new_branch], t.feat_dim, self.plan.n_classes)
        with torch.no_grad():  # the old head's weights carry over for the old features
            k = old.head.in_features
            net.head.weight.zero_()
            net.head.weight[:, :k] = old.head.weight
            net.head.bias.copy_(old.head.bias)
        for b in net.branches[:-1]:
            b.requires_grad_(False)
        if net.shared is not None:
            net.shared.requires_grad_(self.train_base)
        return net

    def learn(self, experience: Any) -> None:
        assert self.plan is not None
        p = self.plan
        net = self._expand()
        old_seen, self.seen = self.seen, self.seen + len(experience.classes)
        net.aux = nn.Linear(self.template.feat_dim, len(experience.classes) + 1)
        x = np.concatenate([experience.x, self.mem_x])
        y = np.concatenate([experience.y, self.mem_y])
        xt, yt = self._x(x), torch.from_numpy(y)
        aux_y = torch.where(yt >= old_seen, yt - old_seen + 1, torch.zeros_like(yt))
        opt = torch.optim.SGD([q for q in net.parameters() if q.requires_grad], lr=p.lr,
                              momentum=0.9, weight_decay=5e-4)
        for _ in range(p.epochs):
            net.train()
            for b in net.branches[:-1]:
                b.eval()  # frozen branches keep their batch-norm statistics
            order = torch.randperm(len(xt), generator=self.gen)
            for i in range(0, len(order), p.batch_size):
                idx = order[i:i + p.batch_size]
                if len(idx) < 2:
                    continue
                feats = net.features(xt[idx])
                logits = net.head(feats)[:, :self.seen]
                loss = F.cross_entropy(logits, yt[idx])
                if old_seen:  # the auxiliary loss on the new branch's features
                    new_feat = feats[:, -self.template.feat_dim:]
                    loss = loss + self.aux_weight * F.cross_entropy(net.aux(new_feat),
                                                                    aux_y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net = net
        self._update_exemplars(experience)

    @torch.no_grad()
    def _feats(self, x: np.ndarray) -> torch.Tensor:
        assert self.net is not None
        self.net.eval()
        f = torch.cat([self.net.features(self._x(x[i:i + 512])) for i in range(0, len(x), 512)])
        return F.normalize(f, dim=1)

    def _update_exemplars(self, experience: Any) -> None:
        assert self.plan is not None
        per_class = self.plan.exemplars // self.seen if self.seen else 0
        keep_x, keep_y = [], []
        for c in np.unique(self.mem_y):  # herding order is kept: the first m stay
            idx = np.flatnonzero(self.mem_y == c)[:per_class]
            keep_x.append(self.mem_x[idx])
            keep_y.append(self.mem_y[idx])
        for c in experience.classes:
            xc = experience.x[experience.y == c]
            pick = herding(self._feats(xc), min(per_class, len(xc))) if per_class else []
            keep_x.append(xc[pick])
            keep_y.append(np.full(len(pick), c, dtype=np.int64))
        self.mem_x = np.concatenate(keep_x) if keep_x else self.mem_x[:0]
        self.mem_y = np.concatenate(keep_y) if keep_y else self.mem_y[:0]

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.net is not None
        self.net.eval()
        out = [self.net.head(self.net.features(self._x(x[i:i + 512])))[:, :self.seen]
               for i in range(0, len(x), 512)]
        return torch.cat(out).argmax(1).numpy()

    def stored(self) -> dict[str, int]:
        assert self.net is not None
        params = sum(q.numel() for q in self.net.branches.parameters())
        if self.net.shared is not None:
            params += sum(q.numel() for q in self.net.shared.parameters())
        return {"params": params, "teacher_params": 0, "exemplars": len(self.mem_y)}

    def info(self) -> dict[str, Any]:
        return {**super().info(), "train_base": self.train_base, "aux_weight": self.aux_weight,
                "own_schedule": self.own_schedule,
                "library": {"torch": torch.__version__}}


def herding(feats: torch.Tensor, m: int) -> list[int]:
    """iCaRL's herding: greedily pick the samples whose running mean stays nearest the class
    mean of the (normalised) features."""
    mu = feats.mean(0)
    chosen: list[int] = []
    total = torch.zeros_like(mu)
    avail = torch.ones(len(feats), dtype=torch.bool)
    for k in range(1, m + 1):
        dist = ((mu - (total + feats) / k) ** 2).sum(1)
        dist[~avail] = float("inf")
        i = int(dist.argmin())
        chosen.append(i)
        total += feats[i]
        avail[i] = False
    return chosen


class MEMO(ExpandableLearner):
    """MEMO: a shared generalized block, one specialized block per task."""

    name: ClassVar[str] = "memo"
    architecture: ClassVar[Architecture] = "memo"
    share_generalized: ClassVar[bool] = True


class DER(ExpandableLearner):
    """DER (expandable representation): one whole backbone per task."""

    name: ClassVar[str] = "der"
    architecture: ClassVar[Architecture] = "der"
    share_generalized: ClassVar[bool] = False
