"""The knowledge-capacity pack: pretrain models of several sizes on bioS/bioD for several
exposure counts, measure span losses per person, report bits per parameter (R) and R_max.

Samples: one per (config, person); a config ("2x64@100x": size and exposures) is one group,
i.e. one model trained from scratch. `limit` caps the people evaluated per config (R is then
estimated from their mean losses; training always sees all N people). Per-person losses go
into each prediction, so R can be re-derived from predictions.jsonl.

Defaults are the CPU-scale setting that reaches the paper's regime with tiny models
(benchmarks/capacity_small.py): bioD with N=500, K=8, C=1, D=64, L=2, T=16 and symbol
names; AdamW (0.9, 0.98), weight decay 0.1, LR 2e-2 (tiny models need a high LR), batches
of 4 windows of 512 tokens, warmup then cosine to 0.1x. Large models want the paper's 1e-3.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from memeval.aggregate import summarize_metrics
from memeval.contracts import Aggregate, Block, Estimate, MetricEntry, MetricSpec, OptionSpec, TrainConfig
from memeval.errors import UserError
from memeval.records import Prediction, Sample, Score, Verdict
from memeval.taskbase import TrainedModelTask
from memeval.tasks.capacity.corpus import DATASETS, Corpus, make_corpus
from memeval.tasks.capacity.train import person_losses, pretrain

NATIVE = "model"  # config label when no sizes are swept: the system as constructed


def _csv(spec: Any, cast: type) -> list[Any]:
    """"1x32,2x64" (or ";" inside a CLI task spec, whose options split on commas) or a list."""
    items = spec if isinstance(spec, (list, tuple)) else str(spec or "").replace(";", ",").split(",")
    return [cast(str(x).strip()) for x in items if str(x).strip()]


_CONFIG = {"strata": ("config",), "overall": False, "family": "capacity"}  # pooled over models
METRICS = (
    MetricSpec(name="p1", unit="nats", higher_is_better=False, **_CONFIG,
               description="name-span loss of a person's first biography (Allen-Zhu & Li p1)"),
    MetricSpec(name="p2", unit="nats", higher_is_better=False, **_CONFIG,
               description="attribute-value span losses summed over attributes (p2)"),
    MetricSpec(name="p3", unit="nats", higher_is_better=False, **_CONFIG,
               description="bioD: loss of the diversity-set values (p3)"),
    MetricSpec(name="bits_per_person", unit="bits", **_CONFIG,
               description="knowledge bits stored per person (N * bits / N, affine in losses)"),
    MetricSpec(name="bits_per_param", unit="bits/param", estimator="custom", strata=("config",),
               overall=False, family="capacity", pairable=False,
               description="R: knowledge bits over parameters (unused vocabulary excluded)"),
)
OPTIONS = (
    OptionSpec(name="dataset", default="bioD", choices=tuple(DATASETS)),
    OptionSpec(name="n", type="int", default=500, help="people N"),
    OptionSpec(name="sizes", default="", help="model sizes <layers>x<width>, e.g. 2x16;2x32"),
    OptionSpec(name="exposures", default="100", help="exposures per person, e.g. 10;100"),
    OptionSpec(name="k", type="int", default=8, help="bioD: attributes K"),
    OptionSpec(name="c", type="int", default=1, help="bioD: chunks per value C"),
    OptionSpec(name="d", type="int", default=64, help="bioD: diversity D"),
    OptionSpec(name="l", type="int", default=2, help="bioD: value length L"),
    OptionSpec(name="t", type="int", default=16, help="bioD: vocabulary per chunk T"),
    OptionSpec(name="names", default="symbols", help="bioD names: symbols or words"),
    OptionSpec(name="lr", type="float", default=2e-2),
    OptionSpec(name="batch_size", type="int", default=4),
    OptionSpec(name="warmup", type="int", default=1000),
    OptionSpec(name="weight_decay", type="float", default=0.1),
    OptionSpec(name="context", type="int", default=512),
    OptionSpec(name="eval_batch", type="int", default=16),
    OptionSpec(name="plots_dir", help="where plots go (default: <run folder>/plots)"),
)


class CapacityTask(TrainedModelTask):
    name: ClassVar[str] = "knowledge-capacity"
    version: ClassVar[str] = "1.0"
    summary: ClassVar[str] = "knowledge-capacity bits per parameter on bioS/bioD"
    cluster_name: ClassVar[str] = "person"
    options: ClassVar[tuple[OptionSpec, ...]] = OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    smoke: ClassVar[dict[str, Any]] = {
        "options": {"n": 20, "sizes": "1x16", "exposures": "1", "warmup": 2},
        "system": "gpt2-tiny"}

    def __init__(self, limit: int | None = None, seed: int = 0, dataset: str = "bioD",
                 n: int = 500, sizes: str = "", exposures: str | int = "100",
                 k: int = 8, c: int = 1, d: int = 64, l: int = 2, t: int = 16,  # noqa: E741
                 names: str = "symbols",
                 lr: float = 2e-2, batch_size: int = 4, warmup: int = 1000,
                 weight_decay: float = 0.1, context: int = 512, eval_batch: int = 16,
                 plots_dir: str | None = None) -> None:
        if dataset not in DATASETS:
            raise UserError(f"knowledge-capacity: dataset must be one of {', '.join(DATASETS)}")
        self.limit, self.seed, self.dataset, self.n = limit, int(seed), dataset, int(n)
        self.sizes = _csv(sizes, str) or [NATIVE]
        self.exposures = _csv(exposures, int)
        if not self.exposures or min(self.exposures) < 1:
            raise UserError("knowledge-capacity: exposures must be positive integers, e.g. 10,100")
        self.biod = {"k": int(k), "c": int(c), "d": int(d), "l": int(l), "t": int(t),
                     "names": str(names)}
        self.train_cfg = TrainConfig(lr=float(lr), schedule="cosine", warmup_steps=int(warmup),
                                     min_lr_ratio=0.1, weight_decay=float(weight_decay),
                                     betas=(0.9, 0.98), eps=1e-6, batch_size=int(batch_size))
        self.context, self.eval_batch = int(context), int(eval_batch)
        self.plots_dir = Path(plots_dir) if plots_dir else None
        try:
            self.corpus: Corpus = make_corpus(dataset, self.n, self.seed,
                                              **(self.biod if dataset == "bioD" else {}))
        except ValueError as e:
            raise UserError(f"knowledge-capacity: {e}") from e
        self._lock = asyncio.Lock()

    def config(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "n": self.n, "sizes": self.sizes,
                "exposures": self.exposures, "context": self.context, "limit": self.limit,
                "train": self.train_cfg.to_dict(),
                **({"biod": self.biod} if self.dataset == "bioD" else {})}

    def data_info(self) -> dict[str, Any]:
        info = self.corpus.describe()
        return {"source": "generated by memeval (memeval.tasks.capacity)", "seed": self.seed,
                "license": "Apache-2.0 (generated)", "sha256": None, **info}

    def configs(self) -> list[str]:
        return [f"{s}@{e}x" for s in self.sizes for e in self.exposures]

    def samples(self) -> Iterator[Sample]:
        people = range(min(self.n, self.limit) if self.limit is not None else self.n)
        for cfg in self.configs():
            for i in people:
                yield Sample(sample_id=f"{cfg}/p{i:05d}", cluster=f"p{i:05d}", group=cfg,
                             input={"person": i, "config": cfg},
                             reference={"facts": self.corpus.facts(i)})

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: Any) -> AsyncIterator[Prediction]:
        size, _, exp = group.rpartition("@")
        exposures = int(exp.rstrip("x"))
        async with self._lock:  # one model trains at a time: they share the CPU/GPU anyway
            model = system if size == NATIVE else system.variant(size=size)
            rows, train, params = await asyncio.to_thread(
                self._train_and_measure, model, exposures, [s.input["person"] for s in samples],
                ctx.seed)
        for j, (s, row) in enumerate(zip(samples, rows)):
            meta: dict[str, Any] = {**row, "config": group, "exposures": exposures,
                                    "n": self.n, **params}
            if j == 0:
                meta["training"] = train  # full provenance once per config
            yield Prediction(sample_id=s.sample_id, cluster=s.cluster, task=self.name,
                             system=ctx.system_name, reference=s.reference, meta=meta,
                             output=f"p1={row['p1']:.4f} p2={row['p2']:.4f}")

    def _train_and_measure(self, model: Any, exposures: int, people: list[int],
                           seed: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        model.prepare(self.corpus.vocab_texts(), seed=seed)
        context = min(self.context, model.max_length)
        res = pretrain(model, self.corpus, exposures, self.train_cfg, seed, context)
        rows = person_losses(model, self.corpus, people, context, self.eval_batch)
        info = model.info()
        params = {"params": model.n_params(res.used_ids), "params_total": model.n_params(),
                  "model": info.get("model", type(model).__name__)}
        return rows, {**res.summary(), "model_info": info}, params

    # ---- scoring ----
    def metric_specs(self) -> list[MetricSpec]:
        return [m for m in self.metrics if self.dataset == "bioD" or m.name != "p3"]

    def score(self, pred: Prediction, verdicts: Sequence[Verdict] = ()) -> list[Score]:
        m = pred.meta
        strata = {"config": str(m.get("config", pred.sample_id.split("/")[0]))}
        names = ["p1", "p2"] + (["p3"] if self.dataset == "bioD" else [])
        if pred.error is not None:
            return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=x, value=None,
                          strata=strata) for x in names + ["bits_per_person"]]
        out = [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=x,
                     value=float(m[x]), strata=strata) for x in names]
        n = int(m["n"])
        # bits(N, p) is affine in the losses, so N * mean_i bits(N, p_i)/N = bits(N, mean p):
        # a per-person share whose clustered CI carries over to R
        share = self.corpus.bits({x: float(m[x]) for x in names}, n) / n
        out.append(Score(sample_id=pred.sample_id, cluster=pred.cluster,
                         metric="bits_per_person", value=share, strata=strata,
                         detail={"params": m["params"], "params_total": m["params_total"],
                                 "n": n, "model": m["model"], "exposures": m["exposures"]}))
        return out

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        metrics = summarize_metrics(self.metric_specs(), scores)
        bpp = next(m for m in self.metrics if m.name == "bits_per_param")
        table = []
        per_person = metrics.get("bits_per_person")
        for cfg, block in (per_person.strata.get("config", {}) if per_person else {}).items():
            d = next((s.detail for s in scores if s.metric == "bits_per_person"
                      and s.strata.get("config") == cfg and s.detail), None)
            if d is None:  # every sample of this config failed: nothing to convert
                continue
            n, params = int(d["n"]), int(d["params"])
            scaled = Block(all=_scaled(block.all, n / params), valid=_scaled(block.valid, n / params),
                           n_invalid=block.n_invalid)
            metrics.setdefault("bits_per_param", MetricEntry(spec=bpp)).strata.setdefault(
                "config", {})[cfg] = scaled
            table.append({"config": cfg, "model": d["model"], "exposures": d["exposures"],
                          "params": params, "params_total": d["params_total"], "n": n,
                          "bits": _mul(block.valid.mean, n), "R": scaled.valid.mean,
                          "R_ci": scaled.valid.ci_t, "R_max": self.corpus.max_bits(n) / params,
                          "max_bits": self.corpus.max_bits(n)})
        table.sort(key=lambda r: (r["exposures"], r["params"]))
        plots_dir = self.resolve_plots_dir(run_dir)
        plots = []
        if plots_dir is not None and table:
            from memeval.tasks.capacity.plots import plot_capacity
            plots = [plot_capacity(table, plots_dir / "capacity_bits.png",
                                   title=f"{self.dataset} N={self.n}")]
        return Aggregate(metrics=metrics, plots=plots,
                         details={"capacity": table, "dataset": self.corpus.describe()})


def _mul(x: float | None, f: float) -> float | None:
    return None if x is None or not math.isfinite(x) else x * f


def _scaled(e: Estimate, f: float) -> Estimate:
    """An estimate of per-person bits scaled to bits per parameter (a linear map)."""
    ci = (lambda c: None if c is None else (_mul(c[0], f), _mul(c[1], f)))
    return e.model_copy(update={"mean": _mul(e.mean, f), "se": _mul(e.se, f),
                                "ci_t": ci(e.ci_t), "ci_boot": ci(e.ci_boot)})
