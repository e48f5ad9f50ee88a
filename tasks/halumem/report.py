"""HaluMem aggregates with clustered uncertainty (cluster = user).

Every HaluMem metric is a ratio of sums over records, so its SE and CI come from the cluster
bootstrap of that ratio; extraction F1 (a function of two ratios over different record sets)
is bootstrapped jointly with the same cluster draws.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from memeval.records import Prediction, Score
from memeval.stats import cluster_bootstrap, summarize_ratio
from memeval.tasks.halumem.metrics import (AccuracyRecord, IntegrityRecord, QARecord, Ratio,
                                           UpdateRecord, compute, target_precision)
from memeval.tasks.halumem.metrics import recall as recall_ratio

_KEY = re.compile(r"^(?P<name>[a-z_]+)\((?P<variant>all|valid)\)(?:/(?P<field>\w+)=(?P<val>.+))?$")
RENAME = {"recall": "memory_recall"}


def _records(scores: Sequence[Score]) -> dict[str, list[Any]]:
    kinds = {"integrity": IntegrityRecord, "accuracy": AccuracyRecord, "update": UpdateRecord,
             "qa": QARecord}
    out: dict[str, list[Any]] = {k: [] for k in kinds}
    for s in scores:
        if s.metric in kinds and "record" in s.detail:
            out[s.metric].append(kinds[s.metric].model_validate(s.detail["record"]))
    return out


def _summary(r: Ratio, seed: int, variant: str) -> dict[str, Any]:
    # The "(all)" records already count invalid verdicts as wrong; the label says which.
    return summarize_ratio(r.num, r.den, r.clusters, seed=seed, invalid=variant).to_dict()


def _f1(integrity: list[IntegrityRecord], accuracy: list[AccuracyRecord], seed: int
        ) -> dict[str, Any]:
    p, r = target_precision(accuracy, "all"), recall_ratio(integrity, "all")
    point = None if p.value is None or r.value is None or (p.value + r.value) == 0 else \
        2 * p.value * r.value / (p.value + r.value)
    out: dict[str, Any] = {"n": len(p.den) + len(r.den), "mean": point,
                           "n_clusters": len(set(p.clusters) | set(r.clusters)),
                           "se": None, "ci_t": None, "ci_boot": None,
                           "method": "f1 of ratios (all)/cluster bootstrap", "seed": seed}
    if point is None or len(set(p.clusters) & set(r.clusters)) < 2:
        return out

    def f1(t: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            pp, rr = t["pn"] / t["pd"], t["rn"] / t["rd"]
            return np.where(pp + rr > 0, 2 * pp * rr / (pp + rr), 0.0)

    _, se, ci = cluster_bootstrap(
        f1, {"pn": p.num, "pd": p.den, "rn": r.num, "rd": r.den},
        {"pn": p.clusters, "pd": p.clusters, "rn": r.clusters, "rd": r.clusters}, seed=seed)
    out.update(se=se, ci_boot=list(ci))
    return out


def _times(predictions: Sequence[Prediction]) -> dict[str, Any]:
    add = sum(p.meta.get("add_s", 0.0) for p in predictions)
    qa = [q for p in predictions for q in p.meta.get("qa", [])]
    return {"add_minutes": add / 60, "retrieval_minutes": sum(q["search_s"] for q in qa) / 60,
            "update_search_minutes": sum(p.meta.get("update_search_s", 0.0)
                                         for p in predictions) / 60,
            "answer_minutes": sum(q["answer_s"] for q in qa) / 60,
            "sessions": len(predictions), "questions": len(qa),
            "extracted_memories": sum(len(p.meta.get("extracted", [])) for p in predictions)}


def aggregate_halumem(scores: list[Score], predictions: Sequence[Prediction] = (),
                      seed: int = 0) -> dict[str, Any]:
    recs = _records(scores)
    result = compute(recs["integrity"], recs["accuracy"], recs["update"], recs["qa"])
    metrics: dict[str, Any] = {}
    for key, ratio in result.ratios.items():
        m = _KEY.match(key)
        if not m:
            continue
        name = RENAME.get(m["name"], m["name"])
        entry = metrics.setdefault(name, {})
        block = entry.setdefault("overall", {}) if not m["field"] else \
            entry.setdefault(f"by_{m['field']}", {}).setdefault(m["val"], {})
        block[m["variant"]] = _summary(ratio, seed, m["variant"])
    for entry in metrics.values():
        for block in [entry.get("overall", {})] + [b for k, v in entry.items()
                                                   if k.startswith("by_") for b in v.values()]:
            if "all" in block and "valid" in block:
                block["n_invalid"] = block["all"]["n"] - block["valid"]["n"]
    f1 = _f1(recs["integrity"], recs["accuracy"], seed)
    metrics["extraction_f1"] = {"overall": {"all": f1, "valid": f1, "n_invalid": 0}}
    return {"metrics": metrics, "counts_verdicts": result.counts,
            "empty_extraction": result.empty_extraction, "times": _times(predictions),
            "clusters": "user", "judges": sorted({str(s.detail.get("judge")) for s in scores})}
