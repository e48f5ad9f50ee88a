"""The information-capacity pack (Yuan et al. 2025, arXiv 2511.08066).

Samples: one per (config, text). A config is the system as constructed ("model") or, for a
from-scratch trainable (gpt2-tiny), one size of the `sizes` sweep, pretrained here on the
text set's train split first: a series on one corpus. Each prediction records one text's raw
sums (predicted tokens, UTF-8 bytes, summed NLL bits) and the model's FLOPs per token, so
every averaging rule can be re-derived from predictions.jsonl.

Metrics (per config): text bits per token, NLL bits per token (float32 log-softmax, first
token not predicted, texts truncated to `max_tokens`), and IC = (text - NLL + b) / log2 FLOPs
with a bootstrap CI over texts; the table in `details.infocap` adds the series' flatness.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from memeval.aggregate import summarize_metrics
from memeval.contracts import (Aggregate, Block, Estimate, MetricEntry, MetricSpec,
                               OptionSpec, SystemKind, TrainConfig)
from memeval.errors import UserError
from memeval.metrics.infocap import BIASES, UnsupportedConfig, flops_per_token
from memeval.records import Prediction, Sample, Score, Verdict
from memeval.taskbase import TaskBase
from memeval.tasks.infocap import textsets
from memeval.tasks.infocap.measure import AVERAGING, TextRecord, estimate, flatness

NATIVE = "model"
_PER_CONFIG = {"strata": ("config",), "overall": False, "family": "capacity"}
BACKENDS = ("torch", "hf", "llamacpp", "vllm")

OPTIONS = (
    OptionSpec(name="data", flag="--data", help="a .jsonl/.txt file or hub:NAME[:CONFIG][@SPLIT] "
               "(default: memeval's shipped mixed set)"),
    OptionSpec(name="text_field", default="text", help="JSONL/hub field holding the text"),
    OptionSpec(name="kind", choices=tuple(BIASES), help="text kind that picks the paper's bias "
               "b (mixed -24, zh-fineweb-edu -18.7, other -27); required with --data"),
    OptionSpec(name="bias", type="float", help="an explicit bias b instead of the kind's"),
    OptionSpec(name="max_tokens", type="int", default=1024, help="tokens per text (paper: 1024)"),
    OptionSpec(name="averaging", default="reference", choices=AVERAGING,
               help="reference: text size mean over texts, NLL pooled over tokens"),
    OptionSpec(name="mlp", choices=("gated", "plain"),
               help="MLP form for a model_type the FLOP counter does not know"),
    OptionSpec(name="backend", flag="--backend", choices=BACKENDS, system_option=True,
               help="the system's backend (smollm2-135m: torch, hf, llamacpp)"),
    OptionSpec(name="sizes", default="", help="gpt2-tiny sizes to train and score, e.g. 1x32;2x64"),
    OptionSpec(name="train_steps", type="int", default=300,
               help="pretraining steps of a from-scratch model on the train split"),
    OptionSpec(name="lr", type="float", default=3e-3),
    OptionSpec(name="batch_size", type="int", default=8),
    OptionSpec(name="context", type="int", default=256, help="training window in tokens"),
    OptionSpec(name="score_batch", type="int", default=4, help="texts scored per call"),
    OptionSpec(name="plots_dir", help="where plots go (default: <run folder>/plots)"),
)


def _sizes(spec: str) -> list[str]:
    return [s.strip() for s in str(spec or "").replace(";", ",").split(",") if s.strip()]


def specs_for(averaging: str) -> list[MetricSpec]:
    """The metrics under an averaging rule (the estimators follow the rule)."""
    text_est = "mean" if averaging in ("reference", "samples") else "ratio"
    nll_est = "mean" if averaging == "samples" else "ratio"
    rule = {"mean": "mean over texts", "ratio": "pooled over tokens"}
    return [
        MetricSpec(name="text_bits_per_token", unit="bits/token", estimator=text_est,
                   higher_is_better=True, pairable=False, **_PER_CONFIG,
                   description=f"8 x UTF-8 bytes per predicted token ({rule[text_est]})"),
        MetricSpec(name="nll_bits_per_token", unit="bits/token", estimator=nll_est,
                   higher_is_better=False, **_PER_CONFIG,
                   description=f"-log2 p per predicted token ({rule[nll_est]})"),
        MetricSpec(name="information_capacity", unit="IC", estimator="custom",
                   pairable=False, **_PER_CONFIG,
                   description="(text bits - NLL bits + b) / log2 FLOPs per token; "
                   "bootstrap CI over texts"),
    ]


class InfoCapTask(TaskBase):
    name: ClassVar[str] = "infocap"
    version: ClassVar[str] = "1.0"
    summary: ClassVar[str] = "information capacity: compression per FLOP (Yuan et al. 2025)"
    system_kind: ClassVar[SystemKind] = "language-model"
    needs_llm: ClassVar[bool] = False
    cluster_name: ClassVar[str] = "text"
    options: ClassVar[tuple[OptionSpec, ...]] = OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = tuple(specs_for("reference"))
    smoke: ClassVar[dict[str, Any]] = {
        "options": {"sizes": "1x16", "train_steps": 3, "max_tokens": 32, "context": 32,
                    "batch_size": 2}, "system": "gpt2-tiny", "limit": 3}

    def __init__(self, limit: int | None = None, seed: int = 0, data: str | None = None,
                 text_field: str = "text", kind: str | None = None, bias: float | None = None,
                 max_tokens: int = 1024, averaging: str = "reference", mlp: str | None = None,
                 sizes: str = "", train_steps: int = 300, lr: float = 3e-3, batch_size: int = 8,
                 context: int = 256, score_batch: int = 4, plots_dir: str | None = None) -> None:
        if averaging not in AVERAGING:
            raise UserError(f"infocap: averaging must be one of {', '.join(AVERAGING)}")
        self.limit, self.seed = limit, int(seed)
        self.texts = textsets.load(data, text_field, limit) if data else textsets.shipped()
        if limit is not None:
            self.texts.texts = self.texts.texts[:limit]
        self.kind = kind or self.texts.kind
        if bias is None and self.kind is None:
            raise UserError("infocap: say what kind of text --data is (option kind=mixed, "
                            "zh-fineweb-edu or other) or give bias=B; the bias is never "
                            "guessed from a file name")
        self.bias = float(bias) if bias is not None else BIASES[str(self.kind)]
        self.max_tokens, self.averaging, self.mlp = int(max_tokens), averaging, mlp
        self.sizes = _sizes(sizes) or [NATIVE]
        self.train_steps, self.context, self.score_batch = int(train_steps), int(context), \
            int(score_batch)
        self.train_cfg = TrainConfig(lr=float(lr), schedule="cosine",
                                     warmup_steps=min(50, max(1, int(train_steps) // 10)),
                                     min_lr_ratio=0.1, weight_decay=0.1, betas=(0.9, 0.95),
                                     batch_size=int(batch_size), label="infocap-pretrain")
        self.plots_dir = Path(plots_dir) if plots_dir else None
        self._lock = asyncio.Lock()

    def config(self) -> dict[str, Any]:
        return {"data": self.texts.info.get("name"), "kind": self.kind, "bias": self.bias,
                "max_tokens": self.max_tokens, "averaging": self.averaging, "mlp": self.mlp,
                "sizes": self.sizes, "limit": self.limit,
                **({"train_steps": self.train_steps, "context": self.context,
                    "train": self.train_cfg.to_dict()} if self.sizes != [NATIVE] else {})}

    def data_info(self) -> dict[str, Any]:
        return dict(self.texts.info)

    def samples(self) -> Iterator[Sample]:
        for cfg in self.sizes:
            for t in self.texts.texts:
                yield Sample(sample_id=f"{cfg}/{t.id}", cluster=t.id, group=cfg,
                             input={"text_id": t.id, "source": t.source, "config": cfg})

    @classmethod
    def across_runs(cls, run_dirs: Sequence[Path], out_dir: Path) -> list[str]:
        """One plot of every run's models (a series per system), and each series' flatness."""
        from memeval.runfolder import RunFolder
        from memeval.tasks.infocap.plots import plot_series

        rows, lines = [], []
        for d in run_dirs:
            folder = RunFolder(Path(d))
            m = folder.manifest()
            opts = m.system.get("options") or {}
            label = m.system["name"] + (f" ({opts['backend']})" if opts.get("backend") else "")
            table = folder.results().details.get("infocap") or []
            rows += [{**r, "series": label} for r in table]
            if table:
                f = flatness([(r["log2_flops"], r["ic"]) for r in table])
                lines.append(f"{label}: " + ", ".join(
                    f"{r['model']} IC {r['ic']:.4f}" for r in table) + (
                    f"; slope {f['slope']:+.4f} per doubling of FLOPs, spread {f['spread']:.4f}"
                    if f["slope"] is not None else ""))
        if not rows:
            return []
        path = plot_series(rows, Path(out_dir) / "infocap_series.png",
                           title="information capacity by series")
        return [*lines, f"series plot: {path}"]

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: Any) -> AsyncIterator[Prediction]:
        async with self._lock:  # one model at a time: configs share the CPU anyway
            model, model_info = await asyncio.to_thread(self._model_for, system, group, ctx)
            flops = self._flops(model)
            by_id = {t.id: t.text for t in self.texts.texts}
            for start in range(0, len(samples), self.score_batch):
                chunk = samples[start:start + self.score_batch]
                scored = await asyncio.to_thread(
                    model.score_tokens, [by_id[s.input["text_id"]] for s in chunk],
                    self.max_tokens)
                for j, (s, sc) in enumerate(zip(chunk, scored, strict=True)):
                    meta: dict[str, Any] = {
                        "tokens": sc.tokens, "text_bytes": sc.text_bytes,
                        "nll_bits": sc.nll_bits, "input_tokens": sc.input_tokens,
                        "config": group, "source": s.input["source"],
                        "flops_per_token": flops, "model": model_info["model"],
                        "params": model_info.get("params")}
                    if start == 0 and j == 0:
                        meta["model_info"] = model_info  # full provenance once per config
                    yield Prediction(sample_id=s.sample_id, cluster=s.cluster, task=self.name,
                                     system=ctx.system_name, meta=meta,
                                     output=f"{sc.nll_bits / max(sc.tokens, 1):.4f} bits/token")
            if model is not system:
                model.close()

    def _model_for(self, system: Any, group: str, ctx: Any) -> tuple[Any, dict[str, Any]]:
        model = system
        scratch = getattr(system, "from_scratch", False)
        if group != NATIVE and not scratch:
            raise UserError(f"infocap: sizes={group} needs a from-scratch model (gpt2-tiny); "
                            "a pretrained model is scored as it is")
        if scratch:  # SmolLM2's BPE: a word vocabulary cannot decode to the text's bytes
            model = system.variant(tokenizer="smollm2",
                                   **({"size": group} if group != NATIVE else {}))
        info: dict[str, Any] = {}
        if hasattr(model, "prepare") and getattr(model, "kind", "") == "trainable":
            model.prepare(seed=ctx.seed)  # pretrained: loads weights; from scratch: random init
            if getattr(model, "from_scratch", False):
                from memeval.tasks.infocap.train import pretrain_on_texts

                bar = ctx.progress.add_task(f"pretrain {group}", total=self.train_steps) \
                    if getattr(ctx, "progress", None) is not None else None
                texts = [t.text for t in textsets.shipped("train").texts]
                info["training"] = pretrain_on_texts(
                    model, texts, self.train_steps, self.train_cfg, self.context, ctx.seed,
                    tick=(lambda _n: ctx.progress.advance(bar)) if bar is not None else None)
                if bar is not None:
                    ctx.progress.remove_task(bar)
            info["params"] = model.n_params()
        raw = model.info()
        info.update(model=str(raw.get("model") or getattr(model, "model_name", model.name)),
                    system_info=raw)
        return model, info

    def _flops(self, model: Any) -> float:
        try:
            return flops_per_token(model.hf_config(), self.max_tokens, mlp=self.mlp)
        except UnsupportedConfig as e:
            raise UserError(f"infocap: cannot count FLOPs per token: {e}") from e

    # ---- scoring ----
    def metric_specs(self) -> list[MetricSpec]:
        return specs_for(self.averaging)

    def score(self, pred: Prediction, verdicts: Sequence[Verdict] = ()) -> list[Score]:
        m = pred.meta
        strata = {"config": str(m.get("config", pred.sample_id.split("/")[0]))}
        specs = {s.name: s for s in self.metric_specs()}
        if pred.error is not None or not m.get("tokens"):
            return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=x, value=None,
                          strata=strata) for x in ("text_bits_per_token", "nll_bits_per_token")]
        n = float(m["tokens"])
        return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=name, value=value,
                      weight=n if specs[name].estimator == "ratio" else 1.0, strata=strata)
                for name, value in (("text_bits_per_token", 8 * m["text_bytes"] / n),
                                    ("nll_bits_per_token", m["nll_bits"] / n))]

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        specs = self.metric_specs()
        metrics = summarize_metrics(specs, scores)
        by_cfg: dict[str, list[Prediction]] = {}
        for p in predictions:
            if p.error is None and p.meta.get("tokens"):
                by_cfg.setdefault(str(p.meta["config"]), []).append(p)
        table = []
        ic_spec = specs[-1]
        for cfg, preds in by_cfg.items():
            preds.sort(key=lambda p: p.sample_id)  # bootstrap draws depend on the order
            recs = [TextRecord(int(p.meta["tokens"]), int(p.meta["text_bytes"]),
                               float(p.meta["nll_bits"])) for p in preds]
            flops = float(preds[0].meta["flops_per_token"])
            est = estimate(recs, flops, self.bias, self.averaging, seed=self.seed)
            e = Estimate(n=est.n, n_clusters=est.n, mean=est.ic, se=est.se, ci_boot=est.ci,
                         method=f"custom(valid)/{'bootstrap' if est.ci else 'none'}",
                         seed=self.seed)
            metrics.setdefault("information_capacity", MetricEntry(spec=ic_spec)).strata \
                .setdefault("config", {})[cfg] = Block(all=e, valid=e, n_invalid=0)
            first = next((p.meta for p in preds if "model_info" in p.meta), preds[0].meta)
            table.append({
                "config": cfg, "model": first["model"], "params": first.get("params"),
                "flops_per_token": flops, "log2_flops": math.log2(flops), "texts": est.n,
                "tokens": sum(r.tokens for r in recs), "text_bits": est.text_bits,
                "nll_bits": est.nll_bits, "gain": est.text_bits - est.nll_bits, "ic": est.ic,
                "ic_ci": est.ci, "bias": self.bias, "averaging": self.averaging,
                "training": first.get("model_info", {}).get("training")})
        table.sort(key=lambda r: r["flops_per_token"])
        series = flatness([(r["log2_flops"], r["ic"]) for r in table])
        plots = []
        plots_dir = self.plots_dir or (Path(run_dir) / "plots" if run_dir else None)
        if plots_dir is not None and table:
            from memeval.tasks.infocap.plots import plot_series

            label = predictions[0].system if predictions else "model"
            plots = [plot_series([{**r, "series": label} for r in table],
                                 plots_dir / "infocap.png",
                                 title=f"{self.texts.info.get('name')} (b = {self.bias:g})")]
        notes = [f"averaging={self.averaging}: " + {
            "reference": "text bits per token averaged over texts, NLL bits pooled over "
                         "tokens (the reference scripts' rule)",
            "pooled": "both pooled over tokens", "samples": "both averaged over texts"}[
                self.averaging],
            f"bias b = {self.bias:g} ({self.kind or 'given'}); FLOPs at T = {self.max_tokens}"]
        notes += ["IC = (text bits - NLL bits + b) / log2 FLOPs per token; FLOPs forward only "
                  "from config.json (memeval.metrics.infocap: head_dim, plain MLPs, MoE and "
                  "MLA as computed)", f"texts truncated to their first {self.max_tokens} "
                  "tokens; the first token is not predicted"]
        return Aggregate(metrics=metrics, plots=plots, notes=notes,
                         details={"infocap": table, "flatness": series})
