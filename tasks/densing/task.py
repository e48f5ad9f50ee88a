"""The densing-law pack (Xiao et al. 2024, arXiv 2412.04315): capacity density of a target LM.

memeval trains its own reference family (tiny rotary GPT-2s, word tokenizer, `sizes` x
`multipliers`: each size on about multiplier x N tokens of bioS biographies, seeded) and scores
every member and the target system on the same downstream items (tasks/densing/items.py):
conditional loss -ln P(answer | prompt) and multiple-choice accuracy. Groups: one per reference
config ("2x32@20x") and "target". The aggregate fits L(N, D) and S(L) on the family, inverts
the target's score into an effective size N_hat (D0 tokens credited) and its density
N_hat / N, with a bootstrap over people through the whole pipeline, or says "out of range" and
why. A target that never saw these people scores chance, which is the sigmoid's floor: out of
range is then the honest answer (the data card explains).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from memeval.aggregate import summarize_metrics
from memeval.contracts import (Aggregate, MetricSpec, OptionSpec, SystemKind, TrainConfig)
from memeval.errors import UserError
from memeval.fileio import write_json_atomic
from memeval.records import Prediction, Sample, Score, Verdict
from memeval.taskbase import TaskBase
from memeval.tasks.capacity.bios import text_of
from memeval.tasks.capacity.corpus import BioSCorpus
from memeval.tasks.densing.estimate import ModelItems, estimate
from memeval.tasks.densing.items import Item, make_items
from memeval.tasks.densing.tables import load_family, load_trend
from memeval.tasks.densing.trend import trend_of, trend_line as _trend_line

TARGET = "target"
_CFG = {"strata": ("config",), "overall": False, "family": "capacity"}
METRICS = (
    MetricSpec(name="conditional_loss", unit="nats", higher_is_better=False, **_CFG,
               description="-ln P(answer | prompt), summed over the answer's tokens"),
    MetricSpec(name="accuracy", **_CFG,
               description="the answer outranks every distractor by log-likelihood"),
)
OPTIONS = (
    OptionSpec(name="n", type="int", default=100, help="people in the bioS corpus"),
    OptionSpec(name="test_people", type="int", default=100, help="people whose items are scored"),
    OptionSpec(name="choices", type="int", default=4, help="answer + distractors per item"),
    OptionSpec(name="sizes", default="1x16;1x24;1x32;2x32;2x48",
               help="reference family sizes <layers>x<width> (at least 5 with 1 multiplier)"),
    OptionSpec(name="multipliers", default="1;4", help="training tokens per parameter"),
    OptionSpec(name="d0", type="float", default=1e12, help="tokens credited to the target"),
    OptionSpec(name="holdout", help="a reference config left out of the fits and inverted "
               "like a target with its own tokens as D0: its density should be 1 (a "
               "self-check; default 2x32@4x when that config is trained, '' for none)"),
    OptionSpec(name="family", help="CSV of a reference family instead of training one: "
               "config,params,tokens and loss,score (published) or path (a checkpoint)"),
    OptionSpec(name="trend", help="CSV of model,date,params and score or density: the "
               "density trend and its doubling time"),
    OptionSpec(name="variant", default="bioS-simple", choices=("bioS-simple", "bioS"),
               help="bioS-simple: items test memorised biographies; bioS: new templates"),
    OptionSpec(name="target_params", type="float",
               help="the target's parameter count, where its system does not report one"),
    OptionSpec(name="lr", type="float", default=2e-2),
    OptionSpec(name="batch_size", type="int", default=8),
    OptionSpec(name="context", type="int", default=256),
    OptionSpec(name="reps", type="int", default=200, help="bootstrap replicates"),
    OptionSpec(name="cache", help="folder of trained reference members, shared by runs "
               "(default: <run folder>/checkpoints)"),
    OptionSpec(name="plots_dir", help="where plots go (default: <run folder>/plots)"),
)


def _list(spec: str, cast: type) -> list[Any]:
    return [cast(x.strip()) for x in str(spec or "").replace(";", ",").split(",") if x.strip()]


class DensingTask(TaskBase):
    name: ClassVar[str] = "densing"
    version: ClassVar[str] = "1.0"
    summary: ClassVar[str] = "densing law: effective size and capacity density of a target LM"
    system_kind: ClassVar[SystemKind] = "language-model"
    needs_llm: ClassVar[bool] = False
    cluster_name: ClassVar[str] = "person"
    options: ClassVar[tuple[OptionSpec, ...]] = OPTIONS
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    smoke: ClassVar[dict[str, Any]] = {
        "options": {"n": 12, "test_people": 4, "sizes": "1x8;1x12;1x16", "multipliers": "1;2",
                    "holdout": "1x12@2x", "context": 64, "reps": 5},
        "system": "gpt2-tiny:size=1x8"}

    def __init__(self, limit: int | None = None, seed: int = 0, n: int = 100,
                 test_people: int = 100, choices: int = 4, sizes: str = "1x16;1x24;1x32;2x32;2x48",
                 multipliers: str = "1;4", d0: float = 1e12, holdout: str | None = None,
                 family: str | None = None, trend: str | None = None,
                 variant: str = "bioS-simple", target_params: float | None = None,
                 lr: float = 2e-2, batch_size: int = 8, context: int = 256, reps: int = 200,
                 cache: str | None = None, plots_dir: str | None = None) -> None:
        self.limit, self.seed, self.n = limit, int(seed), int(n)
        self.sizes, self.mults = _list(sizes, str), _list(multipliers, float)
        self.family = load_family(family) if family else None
        self.trend_rows = load_trend(trend) if trend else None
        self.family_path, self.trend_path = family, trend
        members = [r.config for r in self.family] if self.family else \
            [f"{s}@{m:g}x" for s in self.sizes for m in self.mults]
        if holdout is None:
            holdout = "2x32@4x" if "2x32@4x" in members and not self.family else ""
        self.holdout = str(holdout)
        if self.holdout and self.holdout not in members:
            raise UserError(f"densing: holdout {self.holdout!r} is not a reference config "
                            f"(configs: {', '.join(members)})")
        if len(members) - bool(self.holdout) < 5:
            raise UserError("densing: the loss law and the sigmoid have 4 parameters each; "
                            "give at least 5 reference configs (sizes x multipliers)")
        people = min(int(test_people), self.n)
        if limit is not None:
            people = min(people, int(limit))
        self.variant = variant
        self.corpus = BioSCorpus(self.n, self.seed, variant)
        self.items: list[Item] = make_items(self.corpus, range(people), int(choices), self.seed)
        self.choices, self.d0, self.target_params = int(choices), float(d0), target_params
        self.train_cfg = TrainConfig(lr=float(lr), schedule="cosine", warmup_steps=20,
                                     min_lr_ratio=0.1, weight_decay=0.1, betas=(0.9, 0.98),
                                     eps=1e-6, batch_size=int(batch_size), label="densing")
        self.context, self.reps, self.cache = int(context), int(reps), cache
        self.plots_dir = Path(plots_dir) if plots_dir else None
        self._lock = asyncio.Lock()

    def config(self) -> dict[str, Any]:
        return {"n": self.n, "variant": self.variant, "holdout": self.holdout,
                "family": self.family_path, "trend": self.trend_path,
                "items": len(self.items), "choices": self.choices,
                "sizes": self.sizes, "multipliers": self.mults, "d0": self.d0,
                "target_params": self.target_params, "context": self.context,
                "reps": self.reps, "train": self.train_cfg.to_dict(), "limit": self.limit}

    def data_info(self) -> dict[str, Any]:
        return {"source": "generated by memeval (bioS, memeval.tasks.capacity)", "seed": self.seed,
                "license": "Apache-2.0 (generated)", "sha256": None, **self.corpus.describe()}

    def configs(self) -> list[str]:
        """Groups to run: the reference members scored here, then the target."""
        if self.family:
            return [r.config for r in self.family if r.path] + [TARGET]
        return [f"{s}@{m:g}x" for s in self.sizes for m in self.mults] + [TARGET]

    def samples(self) -> Iterator[Sample]:
        for cfg in self.configs():
            for it in self.items:
                yield Sample(sample_id=f"{cfg}/{it.item_id}", cluster=f"p{it.person:05d}",
                             group=cfg, input={"item": it.item_id, "config": cfg})

    # ---- protocol ----
    async def run_group(self, system: Any, group: str, samples: list[Sample],
                        ctx: Any) -> AsyncIterator[Prediction]:
        by_id = {it.item_id: it for it in self.items}
        async with self._lock:
            model, n, d, info = await asyncio.to_thread(self._model_for, system, group, ctx)
            items = [by_id[s.input["item"]] for s in samples]
            rows = await asyncio.to_thread(self._score_items, model, items)
            if model is not system:
                model.close()
        for j, (s, it, row) in enumerate(zip(samples, items, rows, strict=True)):
            meta = {**row, "config": group, "params": n, "tokens": d, "person": it.person,
                    "attribute": it.attribute}
            if j == 0:
                meta["model_info"] = info
            yield Prediction(sample_id=s.sample_id, cluster=s.cluster, task=self.name,
                             system=ctx.system_name, meta=meta,
                             output=f"loss {row['loss']:.3f}, correct {row['correct']}")

    def _model_for(self, system: Any, group: str, ctx: Any) -> tuple[Any, float, float, Any]:
        if group == TARGET:
            if getattr(system, "kind", "") == "trainable" and system.model is None:
                # a from-scratch target stays untrained: a chance-level control
                corpus = self.corpus.vocab_texts() if getattr(system, "from_scratch", False) \
                    else None
                system.prepare(corpus, seed=ctx.seed)
            info = system.info()
            n = self.target_params or info.get("params_total")
            if not n:
                raise UserError("densing: the target system reports no parameter count; "
                                "pass densing:target_params=N")
            return system, float(n), self.d0, info
        row = next((r for r in self.family or () if r.config == group), None)
        if row is not None:  # a user's checkpoint: scored as it is, N and D as the table says
            from memeval.adapters.lm.lmeval_hf import HFLanguageModel

            model = HFLanguageModel(path=str(row.path))
            return model, row.params, row.tokens, model.info()
        from memeval.adapters.lm.hf import TinyGPT2
        from memeval.tasks.capacity.train import pretrain

        size, _, mult = group.partition("@")
        model = TinyGPT2(size=size, tokenizer="word", context=self.context, threads=1)
        model.prepare(self.corpus.vocab_texts(), seed=ctx.seed)
        params = model.n_params()
        per_exposure = sum(len(model.tokenizer.encode(text_of(self.corpus.record(p, 0)))) + 1
                           for p in range(self.corpus.n))
        exposures = max(1, round(float(mult.rstrip("x")) * params / per_exposure))
        cache = self._cache_path(group, ctx)
        if cache is not None and (cache / "meta.json").exists():
            import torch

            meta = json.loads((cache / "meta.json").read_text(encoding="utf-8"))
            model.model.load_state_dict(torch.load(cache / "model.pt", weights_only=True))
            return model, float(params), float(meta["tokens"]), {**meta, "cached": str(cache)}
        res = pretrain(model, self.corpus, exposures, self.train_cfg, ctx.seed, self.context)
        info = {**model.info(), **res.summary(), "exposures": exposures}
        if cache is not None:  # a family is reused by every target scored against it
            import torch

            cache.mkdir(parents=True, exist_ok=True)
            torch.save(model.model.state_dict(), cache / "model.pt")
            write_json_atomic(cache / "meta.json", info)
        return model, float(params), float(res.tokens), info

    def _cache_path(self, group: str, ctx: Any) -> Path | None:
        """<cache>/<key>/<config>: the key is everything that shapes a trained member."""
        root = Path(self.cache) if self.cache else (Path(ctx.run_dir) / "checkpoints"
                                                   if getattr(ctx, "run_dir", None) else None)
        if root is None:
            return None
        key = hashlib.sha256(json.dumps(
            {"n": self.n, "variant": self.variant, "seed": ctx.seed, "context": self.context,
             "train": self.train_cfg.to_dict(), "values": self.corpus.describe()},
            sort_keys=True, default=str).encode()).hexdigest()[:16]
        return root / key / group

    @staticmethod
    def _score_items(model: Any, items: Sequence[Item]) -> list[dict[str, Any]]:
        reqs = [(it.prompt, opt) for it in items for opt in (it.answer, *it.distractors)]
        lls = [ll for ll, _ in model.loglikelihood(reqs)]
        rows, k = [], 0
        for it in items:
            mine = lls[k:k + 1 + len(it.distractors)]
            k += len(mine)
            rows.append({"loss": -mine[0], "correct": int(mine[0] > max(mine[1:])),
                         "ll_distractors": mine[1:]})
        return rows

    # ---- scoring ----
    def score(self, pred: Prediction, verdicts: Sequence[Verdict] = ()) -> list[Score]:
        strata = {"config": str(pred.meta.get("config", pred.sample_id.split("/")[0]))}
        if pred.error is not None:
            return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric=m, value=None,
                          strata=strata) for m in ("conditional_loss", "accuracy")]
        return [Score(sample_id=pred.sample_id, cluster=pred.cluster, metric="conditional_loss",
                      value=float(pred.meta["loss"]), strata=strata),
                Score(sample_id=pred.sample_id, cluster=pred.cluster, metric="accuracy",
                      value=float(pred.meta["correct"]), strata=strata)]

    def aggregate(self, scores: Sequence[Score], predictions: Sequence[Prediction],
                  run_dir: Path | None) -> Aggregate:
        metrics = summarize_metrics(self.metrics, scores)
        groups: dict[str, list[Prediction]] = {}
        for p in sorted(predictions, key=lambda p: p.sample_id):
            if p.error is None:
                groups.setdefault(str(p.meta["config"]), []).append(p)
        models = {cfg: ModelItems(cfg, float(ps[0].meta["params"]), float(ps[0].meta["tokens"]),
                                  np.array([q.meta["person"] for q in ps]),
                                  np.array([q.meta["loss"] for q in ps], dtype=float),
                                  np.array([q.meta["correct"] for q in ps], dtype=float))
                  for cfg, ps in groups.items()}
        empty = np.zeros(0)
        for r in self.family or ():
            if r.path is None:  # published numbers: a fixed point of the fits
                models[r.config] = ModelItems(r.config, r.params, r.tokens, empty, empty, empty,
                                              fixed=(float(r.loss), float(r.score)))  # type: ignore[arg-type]
        ref = [m for c, m in models.items() if c not in (TARGET, self.holdout)]
        notes, details, plots = [], {}, []
        if TARGET in models and len(ref) >= 5:
            try:
                details = estimate(ref, models[TARGET], self.d0, self.reps, self.seed)
                if self.holdout in models:  # the self-check: a member the fits never saw
                    held = models[self.holdout]
                    details["holdout"] = {k: v for k, v in estimate(
                        ref, held, held.d, self.reps, self.seed).items()
                        if k not in ("fits", "family")}
                    details["holdout"]["config"] = self.holdout
                    notes.append(f"holdout {self.holdout} (its own tokens as D0; expect "
                                 f"density 1): {_headline(details['holdout'])}")
            except ValueError as e:
                notes.append(f"no density: the family's fits failed ({e})")
            if details and self.trend_rows:
                details["trend"] = trend_of(self.trend_rows, details["fits"], self.d0)
                notes.append(_trend_line(details["trend"]))
            if details:
                notes.append(f"target: {_headline(details)}")
                plots_dir = self.plots_dir or (Path(run_dir) / "plots" if run_dir else None)
                if plots_dir is not None:
                    from memeval.tasks.densing.plots import plot_densing, plot_trend

                    plots = plot_densing(details, plots_dir)
                    if details.get("trend", {}).get("models"):
                        plots.append(plot_trend(details["trend"], plots_dir))
        else:
            notes.append("no density: it needs the target and at least 5 reference configs "
                         "without failed samples")
        notes.append(f"N counts every parameter (word tokenizer, tied embeddings); D0 = "
                     f"{self.d0:.3g} tokens credited to the target")
        return Aggregate(metrics=metrics, plots=plots, notes=notes, details={"densing": details})


def _headline(d: dict[str, Any]) -> str:
    s = f"score {d['target_score']:.4f} (loss {d['target_loss']:.4f})"
    if not d["in_range"]:
        return f"{s}: effective size out of range: {d['reason']}"
    ci = d.get("density_ci")
    ci_text = f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else f" ({d.get('ci_reason', 'no CI')})"
    return (f"{s}: effective size N_hat {d['n_hat']:.4g} of N {d['target_params']:.4g}, "
            f"density {d['density']:.4g}{ci_text}")
