#!/usr/bin/env python3
"""Rebuild tasks/locomo/data/errata.json from the LoCoMo audit's consolidated errors file.

    python scripts/locomo_errata.py AUDIT/errors.json [--commit SHA]

AUDIT is a checkout of github.com/dial481/locomo-audit (CC BY-NC 4.0). Only its facts are
kept: which question, its category, the error type, the corrected answer and evidence; not
its prose. Each entry is matched to the bundled locomo10.json by question text within its
conversation, and the script refuses to write anything if one does not resolve."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tasks" / "locomo" / "data"
CITATION_ONLY = "WRONG_CITATION"  # the gold answer is right; only its evidence ids are wrong


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("errors", type=Path, help="errors.json of the locomo-audit repository")
    ap.add_argument("--commit", default="9493fb4", help="audit commit the file comes from")
    args = ap.parse_args()
    convs = json.loads((DATA / "locomo10.json").read_text(encoding="utf-8"))
    entries = []
    for e in json.loads(args.errors.read_text(encoding="utf-8")):
        c = int(e["question_id"].split("_")[1])
        hits = [j for j, q in enumerate(convs[c]["qa"]) if q["question"] == e["question"]]
        if len(hits) != 1:
            raise SystemExit(f"{e['question_id']}: {len(hits)} questions with its text")
        entries.append({
            "question_id": e["question_id"], "conversation": convs[c]["sample_id"],
            "qa_index": hits[0], "question": e["question"], "category": e["category"],
            "error_type": e["error_type"], "score_corrupting": e["error_type"] != CITATION_ONLY,
            "corrected_answer": str(e["correct_answer"]),
            "corrected_evidence": list(e["correct_evidence"])})
    out = {"source": "github.com/dial481/locomo-audit errors.json", "commit": args.commit,
           "license": "CC BY-NC 4.0", "attribution": "LoCoMo audit by dial481 (see "
           "data_cards/locomo.md); facts only, no prose", "entries": entries}
    (DATA / "errata.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    print(f"{len(entries)} entries, {sum(x['score_corrupting'] for x in entries)} "
          f"score-corrupting -> {DATA / 'errata.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
