"""Recognition, recall and retention of studied sentences (Orhan 2023, arXiv 2303.17557).

One group = one model: study (fine-tune for max(exposures) epochs, probing after each listed
exposure count), then retention (train on unrelated sentences, probing at listed steps).
Checkpoints are named E<exposures> and R<retention steps>; E0 (exposures=0,...) probes the
unstudied model, the control that shows whether a foil kind is at chance before study (rule-made
foils are not: they are less probable text). Samples: one recognition pair or one recall item
per checkpoint; predictions are written after each probe.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.aggregate import summarize_metrics
from memeval.contracts import Aggregate, MetricSpec, OptionSpec, TrainConfig
from memeval.errors import UserError
from memeval.metrics.text import rouge_l
from memeval.records import Prediction, Sample, Score, Verdict
from memeval.taskbase import TrainedModelTask
from memeval.tasks.rrr import data
from memeval.tasks.rrr.probe import Probe, probe

LICENSE = "CC BY-NC 4.0 (LoCoMo turns); generated foils follow the source license"
PAPER_RETENTION = tuple(range(1, 11)) + tuple(range(20, 101, 10)) + \
    tuple(range(1000, 10001, 1000)) + (100_000,)


def _ints(spec: Any, what: str, lowest: int = 1) -> list[int]:
    if spec == "paper":
        return list(PAPER_RETENTION)
    items = spec if isinstance(spec, (list, tuple)) else str(spec).replace(";", ",").split(",")
    try:
        out = sorted({int(x) for x in items if str(x).strip()})
    except ValueError as e:
        raise UserError(f"rrr: {what} must be integers like 1,3 (got {spec!r})") from e
    if out and out[0] < lowest:
        raise UserError(f"rrr: {what} must be >= {lowest} (got {spec!r})")
    return out


_CELL = {"strata": ("cell",), "overall": False}  # a mean over checkpoints answers no question
METRICS = (
    MetricSpec(name="recognition", **_CELL,
               description="2AFC: the studied sentence is more probable than its foil"),
    MetricSpec(name="recall_exact", **_CELL,
               description="greedy continuation of the first half equals the second half"),
    MetricSpec(name="recall_rouge_l", **_CELL,
               description="ROUGE-L of the continuation against the second half"),
    MetricSpec(name="rouge_faithful", **_CELL,
               description="ROUGE-L of prompt + continuation against the whole sentence"),
)
OPTIONS = (
    OptionSpec(name="n", type="int", default=100, help="studied LoCoMo sentences"),
    OptionSpec(name="n_unstructured", type="int", help="unstructured studied items (default n)"),
    OptionSpec(name="kinds", default=",".join(data.KINDS), help="foil kinds, e.g. "
               + ";".join(data.KINDS)),
    OptionSpec(name="exposures", default="1,3", help="probe after these epochs (0: unstudied)"),
    OptionSpec(name="lr", type="float", default=1e-4, help="study learning rate"),
    OptionSpec(name="batch_size", type="int", default=4, help="study batch size"),
    OptionSpec(name="max_tokens", type="int", default=128, help="items cut to this many tokens"),
    OptionSpec(name="retention_steps", default="1,2,5,10",
               help="probe after these steps on unrelated text ('paper': the paper's grid)"),
    OptionSpec(name="retention_lr", type="float", default=1e-5),
    OptionSpec(name="retention_batch", type="int", default=16),
    OptionSpec(name="eval_batch", type="int", default=16),
    OptionSpec(name="data_path", flag="--data",
               help="LoCoMo-format file the sentences come from (default: the bundled copy)"),
    OptionSpec(name="plots_dir", help="where plots go (default: <run folder>/plots)"),
)


class RRRTask(TrainedModelTask):
    name: ClassVar[str] = "rrr"
    version: ClassVar[str] = "1.0"
    summary: ClassVar[str] = "recognition / recall / retention of studied sentences in model weights"
    cluster_name: ClassVar[str] = "studied item"
    options: ClassVar[tuple[OptionSpec, ...]] = OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    smoke: ClassVar[dict[str, Any]] = {
        "options": {"n": 4, "n_unstructured": 1, "exposures": "1", "retention_steps": "1"},
        "system": "gpt2-tiny:size=1x16"}

    def __init__(self, limit: int | None = None, seed: int = 0, n: int = 100,
                 n_unstructured: int | None = None, kinds: str = ",".join(data.KINDS),
                 exposures: str | int = "1,3", lr: float = 1e-4, batch_size: int = 4,
                 max_tokens: int = 128, retention_steps: str | int = "1,2,5,10",
                 retention_lr: float = 1e-5, retention_batch: int = 16, eval_batch: int = 16,
                 data_path: str | None = None, plots_dir: str | None = None) -> None:
        self.limit, self.seed = limit, int(seed)
        self.n = min(int(n), int(limit)) if limit is not None else int(n)
        self.n_unstructured = self.n if n_unstructured is None else int(n_unstructured)
        self.kinds = tuple(k.strip() for k in str(kinds).replace(";", ",").split(",") if k.strip())
        self.exposures = _ints(exposures, "exposures", lowest=0)  # 0: probe before study
        if not self.exposures:
            raise UserError("rrr: at least one exposure count is needed, e.g. exposures=1,3")
        self.retention_steps = _ints(retention_steps, "retention_steps")
        self.study_cfg = TrainConfig(lr=float(lr), schedule="constant", weight_decay=0.0,
                                     batch_size=int(batch_size), label="study")
        self.retention_cfg = TrainConfig(lr=float(retention_lr), schedule="constant",
                                         weight_decay=0.0, batch_size=int(retention_batch),
                                         label="retention")
        self.max_tokens, self.eval_batch = int(max_tokens), int(eval_batch)
        self.plots_dir = Path(plots_dir) if plots_dir else None
        self.study = data.build(self.n, self.n_unstructured, self.kinds, self.seed,
                                path=data_path)
        self.data_path = data_path

    def checkpoints(self) -> list[str]:
        return [f"E{e}" for e in self.exposures] + [f"R{s}" for s in self.retention_steps]

    def config(self) -> dict[str, Any]:
        return {"n": self.n, "n_unstructured": self.n_unstructured, "kinds": list(self.kinds),
                "exposures": self.exposures, "retention_steps": self.retention_steps,
                "study": self.study_cfg.to_dict(), "retention": self.retention_cfg.to_dict(),
                "max_tokens": self.max_tokens, "limit": self.limit}

    def data_info(self) -> dict[str, Any]:
        return {"source": "LoCoMo turns (snap-research/locomo data/locomo10.json), memeval foils",
                "license": LICENSE, "sha256": self.study.info["source_sha256"],
                "card": "data_cards/rrr.md", **self.study.info}

    def samples(self) -> Iterator[Sample]:
        for cp in self.checkpoints():
            for p in self.study.pairs:
                yield Sample(sample_id=f"{cp}/recog/{p.pair_id}", cluster=p.item_id,
                             group="study", input={"checkpoint": cp, "probe": "recognition"},
                             reference={"kind": p.kind, "studied": p.studied, "foil": p.foil})
            for iid, text in self.study.items.items():
                yield Sample(sample_id=f"{cp}/recall/{iid}", cluster=iid, group="study",
                             input={"checkpoint": cp, "probe": "recall"},
                             reference={"kind": self.study.item_kind(iid), "text": text})

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: Any) -> AsyncIterator[Prediction]:
        wanted: dict[str, list[Sample]] = {}
        for s in samples:
            wanted.setdefault(s.input["checkpoint"], []).append(s)
        items = list(self.study.items.items())
        corpus = [t for _, t in items] + [p.foil for p in self.study.pairs] + self.study.unrelated
        await asyncio.to_thread(system.prepare, corpus, ctx.seed)
        tok = system.tokenizer
        maxlen = min(self.max_tokens, system.max_length)
        enc = {t: tok.encode(t)[:maxlen] for t in dict.fromkeys(corpus)}  # the 128-token cut
        rng = np.random.default_rng([ctx.seed, 0x57D])
        ids = [enc[t] for _, t in items]
        bs = self.study_cfg.batch_size
        system.configure(self.study_cfg, math.ceil(len(ids) / bs) * self.exposures[-1])
        if 0 in self.exposures:  # control: the unstudied model's preference between the two
            for pred in await self._probe(system, "E0", wanted, enc, ctx):
                yield pred
        for epoch in range(1, self.exposures[-1] + 1):
            order = rng.permutation(len(ids)).tolist()
            batches = [[ids[i] for i in order[j:j + bs]] for j in range(0, len(order), bs)]
            await asyncio.to_thread(lambda: [system.train_step(b) for b in batches])
            if epoch in self.exposures:
                for pred in await self._probe(system, f"E{epoch}", wanted, enc, ctx):
                    yield pred
        if not self.retention_steps:
            return
        pool = [enc[t] for t in self.study.unrelated]
        rb = self.retention_cfg.batch_size
        system.configure(self.retention_cfg, self.retention_steps[-1])
        done = 0
        for target in self.retention_steps:
            def run(start: int = done, stop: int = target) -> None:
                for step in range(start, stop):  # the pool cycles when steps x batch exceed it
                    system.train_step([pool[(step * rb + j) % len(pool)] for j in range(rb)])
            await asyncio.to_thread(run)
            done = target
            for pred in await self._probe(system, f"R{target}", wanted, enc, ctx):
                yield pred

    async def _probe(self, system: Any, cp: str, wanted: dict[str, list[Sample]],
                     enc: dict[str, list[int]], ctx: Any) -> list[Prediction]:
        if cp not in wanted:
            return []
        res: Probe = await asyncio.to_thread(probe, system, self.study, enc, self.eval_batch)
        info = system.info()
        trained = {"train_steps": info.get("train_steps"), "train_tokens": info.get("train_tokens")}
        out = []
        for s in wanted[cp]:
            key = s.sample_id.split("/", 2)[2]
            meta: dict[str, Any] = {"checkpoint": cp, "phase": "study" if cp[0] == "E"
                                    else "retention", "x": int(cp[1:]), **trained}
            if s.input["probe"] == "recognition":
                meta.update(res.recognition[key])
                output = "studied" if meta["loss_studied"] < meta["loss_foil"] else "foil"
            else:
                meta.update(res.recall[key])
                output = meta.pop("continuation_text")
            out.append(Prediction(sample_id=s.sample_id, cluster=s.cluster, task=self.name,
                                  system=ctx.system_name, output=output,
                                  reference={**s.reference, "probe": s.input["probe"]},
                                  meta=meta))
        return out

    # ---- scoring ----
    def score(self, pred: Prediction, verdicts: Sequence[Verdict] = ()) -> list[Score]:
        ref, m = pred.reference, pred.meta
        cell = f"{ref['kind']}@{m.get('checkpoint', pred.sample_id.split('/')[0])}"
        strata = {"cell": cell}
        ok = pred.error is None

        def mk(metric: str, v: float | None) -> Score:
            return Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=metric,
                         value=v if ok else None, strata=strata)

        if ref["probe"] == "recognition":
            if not ok:
                return [mk("recognition", None)]
            a, b = m.get("loss_studied"), m.get("loss_foil")
            if a is None or b is None or math.isnan(a) or math.isnan(b):
                return [mk("recognition", None)]  # no loss (a 1-token item): invalid, counted
            return [mk("recognition", 1.0 if a < b else 0.5 if a == b else 0.0)]
        if not ok:
            return [mk(x, None) for x in ("recall_exact", "recall_rouge_l", "rouge_faithful")]
        return [mk("recall_exact", float(m["generated_ids"] == m["reference_ids"])),
                mk("recall_rouge_l", rouge_l(pred.output or "", m["reference_continuation"])),
                mk("rouge_faithful", rouge_l(m["full_output"], m["reference_text"]))]

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        metrics = summarize_metrics(self.metric_specs(), scores)
        plots_dir = self.resolve_plots_dir(run_dir)
        plots = []
        if plots_dir is not None and metrics:
            from memeval.tasks.rrr.plots import plot_rrr
            plots = plot_rrr(metrics, plots_dir)
        return Aggregate(metrics=metrics, plots=plots, notes=[
            f"checkpoints: {', '.join(self.checkpoints())}; cells are <kind>@<checkpoint>: E<n> "
            "after n exposures, R<s> after s retention steps"],
            details={"checkpoints": self.checkpoints()})
