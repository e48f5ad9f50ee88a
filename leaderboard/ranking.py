"""The rank column: `memeval compare`'s paired tests, corrected across all pairs and metrics of
the runs shown together; a rank is shared ('=') where the corrected tests do not separate runs.

Runs are ranked together only when compare would pair them (same task version, data and judge)
and only within one setting (governance.md); any other run gets no rank and a note saying why,
instead of a number that would compare unlike things."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memeval.comparison import CompareReport, compare_runs
from memeval.errors import UserError
from memeval.leaderboard.data import CACHE, RunCache, RunSummary

# Resamples per paired test behind the rank column. A table of k runs needs k(k-1)/2 pairs per
# metric, so ranks use 2,000 (Monte Carlo error of a sign-flip p near 0.05: about 0.005; exact
# McNemar p-values do not resample); the two-run compare page uses `memeval compare`'s 10,000.
N_RESAMPLES = 2000
COMPARE_RESAMPLES = 10000
CORRECTIONS = ("holm", "fdr_bh")


@dataclass
class GroupRanking:
    ranks: dict[tuple[str, str], str] = field(default_factory=dict)  # (run, metric) -> "2="
    notes: list[str] = field(default_factory=list)
    reports: list[CompareReport] = field(default_factory=list)


def pairing_key(r: RunSummary) -> tuple[Any, ...]:
    """What `memeval compare` requires to be equal for a paired test (the setting is not:
    compare pairs across settings, and ranks within each)."""
    t = r.manifest.task
    return (r.task, str(t.get("version")), (t.get("data") or {}).get("sha256"), r.judge)


def describe_key(key: tuple[Any, ...]) -> str:
    task, version, sha, judge = key
    return f"task {task} v{version}, data {str(sha)[:12] if sha else '?'}, judge {judge}"


def compare_group(runs: list[RunSummary], correction: str, n_resamples: int,
                  cache: RunCache = CACHE) -> CompareReport:
    """compare_runs over these runs, memoised on their fingerprints (a changed file reruns it)."""
    key = ("compare", correction, n_resamples,
           tuple(sorted((str(r.path), r.fingerprint) for r in runs)))
    paths = [r.path for r in runs]
    return cache.memo(key, lambda: compare_runs(paths, correction=correction, n_boot=n_resamples,
                                                n_perm=n_resamples, seed=0))


def rank_runs(runs: list[RunSummary], correction: str = "holm",
              n_resamples: int = N_RESAMPLES, cache: RunCache = CACHE) -> GroupRanking:
    """Ranks for one leaderboard table (one suite and task, after filters)."""
    if correction not in CORRECTIONS:
        raise UserError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    out = GroupRanking()
    parts: dict[tuple[Any, ...], list[RunSummary]] = {}
    for r in runs:
        parts.setdefault(pairing_key(r), []).append(r)
    for key, members in parts.items():
        if len(members) < 2:
            why = ("the only run shown" if len(runs) == 1 else
                   f"no other run shown with the same {describe_key(key)}")
            out.notes.append(f"{members[0].label}: not ranked ({why}; paired tests need the same "
                             "task version, data and judge)")
            continue
        try:
            rep = compare_group(members, correction, n_resamples, cache)
        except UserError as e:  # not comparable, malformed scores.jsonl...: say why
            out.notes.append(f"not ranked: {', '.join(m.label for m in members)}: {e}")
            continue
        except Exception as e:  # noqa: BLE001 - one odd run must not take the table down
            out.notes.append(f"not ranked: {', '.join(m.label for m in members)}: "
                             f"{type(e).__name__}: {e}")
            continue
        out.reports.append(rep)
        by_path = {str(r.path): r.name for r in members}
        label_to_name = {info.label: by_path.get(info.path, info.path) for info in rep.runs}
        per_setting = {r.setting: sum(m.setting == r.setting for m in members) for r in members}
        for m in members:
            if per_setting[m.setting] < 2:
                out.notes.append(f"{m.label}: not ranked (the only run of setting {m.setting} "
                                 "shown; runs are never ranked across settings)")
        for metric, entries in rep.rankings.items():
            for e in entries:
                if per_setting.get(e.setting, 0) >= 2:
                    out.ranks[(label_to_name[e.run], metric)] = \
                        f"{e.rank}{'=' if e.shared else ''}"
        if len(parts) > 1:
            out.notes.append(f"ranked together ({describe_key(key)}): "
                             + ", ".join(m.label for m in members))
        out.notes.extend(n for n in rep.notes if n not in out.notes)
    if out.ranks:
        out.notes.append("rank = 1 + number of runs that beat this one significantly after "
                         f"{correction} correction ({n_resamples} resamples per test; same as "
                         f"`memeval compare --correction {correction} --n-boot {n_resamples}`); "
                         "'=' marks a shared rank (the corrected tests do not separate those "
                         "runs); '-' = not an item-level metric all runs share, so it cannot "
                         "be paired")
    return out
