"""Avalanche learners in their own environment (.venv-cil: avalanche-lib 0.6.0 needs
torchvision, which needs a torch other than memeval's CPU 2.13.0). memeval.adapters.cil.
avalanche starts this file with that Python and speaks JSON lines to it (memeval.jsonworker).

Requests: begin {plan, options} -> a fresh model (memeval's backbone, loaded by path, plus a
linear head over all classes) and strategy; learn {path} -> trains on one experience (an .npz
of uint8 images and labels, labels already in order of appearance); predict {path} -> labels
among the classes seen; memory -> what the strategy actually stores, counted from its buffers.
"""

from __future__ import annotations

import json
import sys
import warnings
from importlib import metadata

warnings.filterwarnings("ignore")
REPO = json.loads(sys.argv[1])["repo"]
child = __import__("importlib").util  # stdlib only until the paths below are loaded


def _load(name: str, rel: str):
    spec = child.spec_from_file_location(name, f"{REPO}/{rel}")
    mod = child.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


wc = _load("memeval_worker_child", "memeval/worker_child.py")
PROTO = wc.claim_stdout()
bb = _load("memeval_cil_backbones", "tasks/cil/backbones.py")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from avalanche.benchmarks.scenarios.deprecated.generators import nc_benchmark  # noqa: E402
from avalanche.benchmarks.utils.classification_dataset import (  # noqa: E402
    _make_taskaware_tensor_classification_dataset as tensor_dataset)
from avalanche.training import EWC, GDumb, ICaRL, LwF, Naive, Replay  # noqa: E402
from avalanche.training.plugins import EvaluationPlugin  # noqa: E402

torch.set_num_threads(1)


class State:
    plan: dict = {}
    strategy = None
    backbone: nn.Module | None = None
    head_names: set = set()
    data: list = []
    seen = 0


S = State()


def _quiet() -> EvaluationPlugin:
    return EvaluationPlugin(loggers=[])


def _begin(plan: dict, options: dict) -> dict:
    torch.manual_seed(plan["seed"])
    np.random.seed(plan["seed"])
    backbone = bb.build(plan["backbone"])
    head = nn.Linear(backbone.feat_dim, plan["n_classes"])
    kw = dict(train_mb_size=plan["batch_size"], train_epochs=plan["epochs"], device="cpu",
              evaluator=_quiet, eval_every=-1)
    name, ex = plan["learner"], int(plan["exemplars"])
    if name == "icarl":
        params = list(backbone.parameters()) + list(head.parameters())
        opt = torch.optim.SGD(params, lr=plan["lr"], momentum=0.9, weight_decay=5e-4)
        # Avalanche's fixed_memory=True is a fixed total (ceil(total / classes) per class,
        # which can overshoot by up to classes - 1): the largest total that never does
        total = _icarl_total(ex, plan)
        strategy = ICaRL(feature_extractor=backbone, classifier=head, optimizer=opt,
                         memory_size=total, buffer_transform=None, fixed_memory=True, **kw)
        # every class's mean slot from the start: each learn call builds a benchmark of the
        # experiences so far, and the plugin would otherwise size its means by the first one
        for p in strategy.plugins:
            if type(p).__name__ == "_ICaRLPlugin":
                p.class_means = {c: torch.zeros(backbone.feat_dim)
                                 for c in range(plan["n_classes"])}
        S.head_names = set()
    else:
        model = nn.Sequential(backbone, head)
        opt = torch.optim.SGD(model.parameters(), lr=plan["lr"], momentum=0.9,
                              weight_decay=5e-4)
        crit = nn.CrossEntropyLoss()
        common = dict(model=model, optimizer=opt, criterion=crit, **kw)
        if name == "naive":
            strategy = Naive(**common)
        elif name == "replay":
            strategy = Replay(mem_size=ex, **common)
        elif name == "gdumb":
            strategy = GDumb(mem_size=ex, **common)
        elif name == "lwf":
            strategy = LwF(alpha=float(options.get("alpha", 1.0)),
                           temperature=float(options.get("temperature", 2.0)), **common)
        elif name == "ewc":
            strategy = EWC(ewc_lambda=float(options.get("ewc_lambda", 100.0)), mode="online",
                           decay_factor=1.0, **common)
        else:
            raise ValueError(f"unknown Avalanche learner {name!r}")
        S.head_names = {f"1.{n}" for n, _ in head.named_parameters()}
    S.plan, S.strategy, S.backbone, S.data, S.seen = plan, strategy, backbone, [], 0
    return {"memory_size": ex if name != "icarl" else total}


def _icarl_total(ex: int, plan: dict) -> int:
    counts = _class_counts(plan)
    total = ex
    while total > 0 and any(-(-total // c) * c > ex for c in counts):
        total -= 1
    return total


def _class_counts(plan: dict) -> list[int]:
    n, t = plan["n_classes"], plan["tasks"]
    init = n - (t - 1) * plan["increment"]
    return [init + i * plan["increment"] for i in range(t)]


def _tensors(path: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    z = np.load(path)
    x = torch.from_numpy(z["x"].astype(np.float32) / float(S.plan["pixel_max"]))
    y = torch.from_numpy(z["y"].astype(np.int64)) if "y" in z.files else None
    return x, y


def _learn(path: str) -> dict:
    x, y = _tensors(path)
    S.data.append((x, y))
    xs = torch.cat([d[0] for d in S.data])
    ys = torch.cat([d[1] for d in S.data])
    ds = tensor_dataset(xs, ys, targets=ys.tolist(), task_labels=0)
    counts = _class_counts(S.plan)[:len(S.data)]
    per_exp = {0: counts[0], **{i: counts[i] - counts[i - 1] for i in range(1, len(counts))}}
    bm = nc_benchmark(ds, ds, n_experiences=len(S.data), task_labels=False,
                      fixed_class_order=list(range(counts[-1])), per_exp_classes=per_exp)
    S.strategy.train(bm.train_stream[len(S.data) - 1])
    S.seen = counts[-1]
    return {}


@torch.no_grad()
def _predict(path: str) -> dict:
    x, _ = _tensors(path)
    model = S.strategy.model
    model.eval()
    out = torch.cat([model(x[i:i + 512]) for i in range(0, len(x), 512)])
    return {"labels": out[:, :S.seen].argmax(1).tolist()}


def _memory() -> dict:
    s, name = S.strategy, S.plan["learner"]
    params = sum(p.numel() for p in S.backbone.parameters())
    stored = 0  # extra parameter-sized state the strategy keeps between experiences
    teacher = 0
    exemplars = 0
    for p in s.plugins:
        kind = type(p).__name__
        if kind == "EWCPlugin":
            for d in (p.saved_params, p.importances):
                stored += sum(v.data.numel() for per_exp in d.values()
                              for k, v in per_exp.items() if k not in S.head_names)
        elif kind == "LwFPlugin":
            prev = getattr(p.lwf, "prev_model", None)
            if prev is not None:
                teacher += sum(q.numel() for n, q in prev.named_parameters()
                               if n not in S.head_names)
        elif kind in ("ReplayPlugin", "GDumbPlugin"):
            exemplars += len(p.storage_policy.buffer)
        elif kind == "_ICaRLPlugin":
            exemplars += sum(len(xm) for xm in p.x_memory)
    old = getattr(s._criterion, "old_model", None)  # iCaRL's distillation teacher
    if old is not None:
        teacher += sum(q.numel() for q in old.feature_extractor.parameters())
    return {"params": params, "stored_params": stored, "teacher_params": teacher,
            "exemplars": exemplars, "learner": name}


def handle(req: dict) -> dict:
    op = req["op"]
    if op == "begin":
        return _begin(req["plan"], req.get("options", {}))
    if op == "learn":
        return _learn(req["path"])
    if op == "predict":
        return _predict(req["path"])
    if op == "memory":
        return _memory()
    raise ValueError(f"unknown op {op!r}")


if __name__ == "__main__":
    sys.exit(wc.serve(handle, {"avalanche": metadata.version("avalanche-lib"),
                               "torch": torch.__version__}, PROTO))
