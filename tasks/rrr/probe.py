"""One probe of a studied model: 2AFC recognition by mean per-token loss, and cued recall."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from memeval.tasks.rrr.data import StudySet


@dataclass
class Probe:
    recognition: dict[str, dict[str, Any]]  # pair_id -> losses and lengths
    recall: dict[str, dict[str, Any]]  # item_id -> cue, generated and reference ids and text


def probe(system: Any, study: StudySet, enc: dict[str, list[int]], batch: int) -> Probe:
    """`enc`: text -> token ids already cut to the protocol's 128 tokens.

    Recognition: a pair is correct iff the studied item's mean per-token loss is below the
    foil's (means over predicted tokens, so length differences do not decide).
    Recall: cue = first floor(L/2) tokens, greedy continuation of the remaining L - floor(L/2).
    """
    texts = list(dict.fromkeys([p.studied for p in study.pairs] + [p.foil for p in study.pairs]
                               + list(study.items.values())))
    losses = system.token_losses([enc[t] for t in texts], batch_size=batch)
    mean = {t: float(x.mean()) if len(x) else math.nan for t, x in zip(texts, losses)}
    recognition = {p.pair_id: {"loss_studied": mean[p.studied], "loss_foil": mean[p.foil],
                               "tokens_studied": len(enc[p.studied]),
                               "tokens_foil": len(enc[p.foil])} for p in study.pairs}
    tok = system.tokenizer
    keys = [k for k, t in study.items.items() if len(enc[t]) >= 2]
    cues, refs = [], []
    for k in keys:
        ids = enc[study.items[k]]
        cut = len(ids) // 2
        cues.append(ids[:cut])
        refs.append(ids[cut:])
    gens = system.generate(cues, [len(r) for r in refs], batch_size=batch)
    recall = {}
    for k, cue, ref, gen in zip(keys, cues, refs, gens):
        recall[k] = {"cue_tokens": len(cue), "n_new": len(ref), "generated_ids": gen,
                     "reference_ids": ref, "continuation_text": tok.decode(gen),
                     "reference_continuation": tok.decode(ref), "cue_text": tok.decode(cue),
                     "full_output": tok.decode(cue + gen), "reference_text": tok.decode(cue + ref)}
    return Probe(recognition, recall)
