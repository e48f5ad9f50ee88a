"""memeval.stats against independent references: statsmodels/scipy where they compute the same
quantity, closed forms on constructed data, published examples, and brute-force Python-loop
bootstraps (same draws -> equal; independent draws -> within Monte-Carlo tolerance)."""

from __future__ import annotations

import itertools
import json
import math
from math import comb

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa
from statsmodels.stats.power import NormalIndPower

from memeval import stats as S

nan = math.nan


def clustered_data(seed: int = 0, n_clusters: int = 12, lo: int = 3, hi: int = 15):
    """Unequal cluster sizes, a cluster effect, string labels."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(lo, hi, n_clusters)
    labels = np.repeat([f"user{c:02d}" for c in range(n_clusters)], sizes)
    effect = np.repeat(rng.normal(0, 1, n_clusters), sizes)
    return effect + rng.normal(0, 1, len(labels)), labels


def int_codes(labels) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


# ---- clustered SE and the t CI: statsmodels OLS on a constant -------------------------------

def test_clustered_se_matches_statsmodels_ols_cluster():
    y, lab = clustered_data()
    n, c = len(y), len(set(lab))
    res = sm.OLS(y, np.ones((n, 1))).fit(cov_type="cluster", cov_kwds={"groups": int_codes(lab)},
                                         use_t=True)
    # statsmodels' CR1 factor is C/(C-1) * (n-1)/(n-k); with k = 1 regressor the second factor
    # is exactly 1, so its bse is the spec's formula. With df_correction (default) its t
    # inference uses C-1 df, as the spec does.
    assert S.clustered_se(y, lab) == pytest.approx(res.bse[0], rel=1e-12)
    s = S.summarize(y, lab, n_boot=0)
    assert s.df == c - 1 == res.df_resid_inference
    assert s.mean == pytest.approx(res.params[0], rel=1e-12)
    assert s.ci_t == pytest.approx(tuple(res.conf_int(alpha=0.05)[0]), rel=1e-12)
    s90 = S.summarize(y, lab, level=0.90, n_boot=0)
    assert s90.ci_t == pytest.approx(tuple(res.conf_int(alpha=0.10)[0]), rel=1e-12)


def test_clustered_ratio_se_matches_statsmodels_wls_cluster():
    # sum(w*s)/sum(w) is the WLS intercept with weights w; statsmodels' clustered scores are
    # w_i (s_i - R), so its bse equals the linearised ratio SE (same C/(C-1), k = 1).
    s, lab = clustered_data(seed=3)
    w = np.random.default_rng(4).uniform(0.2, 3.0, len(s))
    res = sm.WLS(s, np.ones((len(s), 1)), weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": int_codes(lab)})
    assert S.clustered_ratio_se(w * s, w, lab) == pytest.approx(res.bse[0], rel=1e-10)
    # den == 1 reduces to the clustered SE of the mean
    assert S.clustered_ratio_se(s, np.ones(len(s)), lab) == pytest.approx(
        S.clustered_se(s, lab), rel=1e-12)


# ---- closed forms on constructed data --------------------------------------------------------

def test_identical_clusters_give_zero_se():
    # Every cluster holds the same multiset, so every cluster mean equals the grand mean: each
    # within-cluster sum of deviations is 0 and the clustered SE is exactly 0 (design effect 0),
    # and every bootstrap resample reproduces the mean.
    block = np.array([0.0, 1.0, 1.0, 0.5])
    y = np.tile(block, 6)
    lab = np.repeat(list("abcdef"), 4)
    s = S.summarize(y, lab, n_boot=500)
    assert s.se == pytest.approx(0.0, abs=1e-15)
    assert s.ci_t == pytest.approx((0.625, 0.625))
    assert s.ci_boot == pytest.approx((0.625, 0.625))


def test_constant_within_cluster_design_effect_m():
    # ICC = 1: C clusters of m identical values x_c. Cluster sums of deviations are m(x_c - xbar),
    # so SE^2 = C/(C-1) * m^2 * sum_c (x_c - xbar)^2 / (Cm)^2. The iid SE with the population
    # variance, naive0^2 = sum_c m (x_c - xbar)^2 / (Cm) / (Cm), gives
    # SE^2 / naive0^2 = m * C/(C-1): the design effect 1 + (m-1)*ICC = m, times C/(C-1).
    x = np.array([0.1, 0.9, 0.4, 0.7, 0.2])
    c, m = len(x), 7
    y = np.repeat(x, m)
    lab = np.repeat(np.arange(c), m)
    naive0 = y.std(ddof=0) / math.sqrt(len(y))
    assert S.clustered_se(y, lab) == pytest.approx(naive0 * math.sqrt(m * c / (c - 1)), rel=1e-12)
    # equivalently: the SE of the C cluster means, sd(x, ddof=1)/sqrt(C)
    assert S.clustered_se(y, lab) == pytest.approx(x.std(ddof=1) / math.sqrt(c), rel=1e-12)


def test_one_item_per_cluster_is_iid_se():
    # C = n: SE^2 = n/(n-1) * sum (s_i - mean)^2 / n^2 = var(ddof=1)/n, i.e. the usual iid SE,
    # which is the population-variance SE times sqrt(n/(n-1)).
    y = np.random.default_rng(1).normal(size=40)
    n = len(y)
    se = S.clustered_se(y, np.arange(n))
    assert se == pytest.approx(y.std(ddof=1) / math.sqrt(n), rel=1e-12)
    assert se == pytest.approx(y.std(ddof=0) / math.sqrt(n) * math.sqrt(n / (n - 1)), rel=1e-12)
    assert S.clustered_se(y, None) == pytest.approx(se, rel=1e-12)
    assert S.design_effect(y, np.arange(n)) == pytest.approx(1.0)


def test_single_cluster_reports_none():
    s = S.summarize([1.0, 0.0, 1.0], ["u", "u", "u"])
    assert math.isnan(S.clustered_se([1.0, 0.0, 1.0], ["u"] * 3))
    assert (s.n, s.n_clusters, s.mean) == (3, 1, pytest.approx(2 / 3))
    assert s.se is s.ci_t is s.ci_boot is s.df is s.seed is None
    assert s.method == "mean(valid)/none"


def test_empty_and_all_invalid():
    s = S.summarize([], [])
    assert (s.n, s.n_clusters, s.n_invalid) == (0, 0, 0)
    assert s.mean is s.se is s.ci_t is s.ci_boot is s.df is None
    s = S.summarize([None, nan], ["a", "b"])
    assert (s.n, s.n_invalid, s.mean) == (0, 2, None)
    assert S.summarize_ratio([], [], []).mean is None


def test_invalid_valid_vs_all():
    v = [1.0, None, 0.0, 1.0, nan, 1.0]
    lab = ["a", "a", "b", "b", "c", "c"]
    valid = S.summarize(v, lab, n_boot=0)
    every = S.summarize(v, lab, n_boot=0, invalid="all")
    assert (valid.n, valid.n_invalid, valid.mean) == (4, 2, 0.75)
    assert (every.n, every.n_invalid, every.mean) == (6, 2, 0.5)
    assert valid.method == "mean(valid)/t" and every.method == "mean(all)/t"  # n_boot=0: no boot
    assert valid.se == pytest.approx(S.clustered_se([1.0, 0.0, 1.0, 1.0], list("abbc")))
    with pytest.raises(ValueError):
        S.summarize(v, lab, invalid="some")


def test_summary_to_dict_is_json_safe_and_methods():
    y, lab = clustered_data()
    s = S.summarize(y, lab, n_boot=200, seed=7)
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["seed"] == 7 and isinstance(d["ci_t"], list) and s.method == "mean(valid)/bootstrap"
    assert s.ci == s.ci_boot  # C = 12 < 30: the bootstrap CI is the headline
    one = S.summarize([1.0], ["x"]).to_dict()
    assert one["se"] is None and json.dumps(one)
    big = S.summarize(np.arange(60.0), np.arange(60) // 2, n_boot=100)
    assert big.method == "mean(valid)/t" and big.ci == big.ci_t


# ---- bootstraps against brute-force Python loops ---------------------------------------------

def loop_bootstrap(labels, stat_of_items, n_boot, rng):
    """One resample per Python iteration: pick clusters (sorted label order, as np.unique
    does), gather their items, recompute the statistic from items."""
    uniq = np.unique(labels)
    members = [np.flatnonzero(labels == u) for u in uniq]
    reps = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), size=len(uniq))
        reps.append(stat_of_items(np.concatenate([members[i] for i in pick])))
    return np.array(reps)


def test_summarize_bootstrap_equals_loop_with_same_draws():
    y, lab = clustered_data(seed=5)
    s = S.summarize(y, lab, n_boot=1500, seed=11)
    reps = loop_bootstrap(lab, lambda idx: y[idx].mean(), 1500, np.random.default_rng(11))
    assert s.ci_boot == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), rel=1e-10)


def test_ratio_se_matches_independent_loop_bootstrap():
    # weighted recall: sum(importance * s) / sum(importance), 15 users
    rng = np.random.default_rng(8)
    sizes = rng.integers(4, 30, 15)
    lab = np.repeat(np.arange(15), sizes)
    imp = rng.uniform(0.1, 5.0, len(lab))
    hit = (rng.random(len(lab)) < np.repeat(rng.uniform(0.2, 0.9, 15), sizes)).astype(float)
    s = S.summarize_ratio(imp * hit, imp, lab, n_boot=6000, seed=1)
    assert s.mean == pytest.approx((imp * hit).sum() / imp.sum(), rel=1e-12)
    # not the average of per-user ratios
    per_user = [(imp * hit)[lab == u].sum() / imp[lab == u].sum() for u in range(15)]
    assert abs(s.mean - np.mean(per_user)) > 1e-3
    reps = loop_bootstrap(lab, lambda i: (imp[i] * hit[i]).sum() / imp[i].sum(), 6000,
                          np.random.default_rng(99))
    # SD of a bootstrap SE estimate ~ SE / sqrt(2B) ~ 0.9% of SE: 5% is > 5 MC sigmas (combined)
    assert s.se == pytest.approx(reps.std(ddof=1), rel=0.05)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert s.ci_boot[0] == pytest.approx(lo, abs=0.25 * s.se)
    assert s.ci_boot[1] == pytest.approx(hi, abs=0.25 * s.se)
    assert s.ci_t == pytest.approx((s.mean - sps.t.ppf(0.975, 14) * s.se,
                                    s.mean + sps.t.ppf(0.975, 14) * s.se))
    # linearised SE carries C/(C-1); the bootstrap SE does not
    lin = S.clustered_ratio_se(imp * hit, imp, lab)
    assert lin * math.sqrt(14 / 15) == pytest.approx(s.se, rel=0.08)
    no_boot = S.summarize_ratio(imp * hit, imp, lab, n_boot=0)  # falls back to the linearised SE
    assert (no_boot.se, no_boot.ci_boot, no_boot.seed) == (pytest.approx(lin), None, None)
    assert no_boot.method == "ratio(valid)/t"


def test_cluster_bootstrap_f1_of_two_ratios_joint():
    # precision over predicted facts, recall over gold facts: different item sets, same users
    rng = np.random.default_rng(2)
    users = np.array(["ann", "bob", "cid", "dee", "eve", "fay", "gus"])
    pred_u = rng.choice(users, 150)
    gold_u = rng.choice(users[1:], 120)  # "ann" has predictions only
    pred_ok = (rng.random(150) < 0.7).astype(float)
    gold_hit = (rng.random(120) < 0.5).astype(float)

    def f1(t):
        p, r = t["tp"] / t["np"], t["hit"] / t["ng"]
        return 2 * p * r / (p + r)

    arrays = {"tp": pred_ok, "np": np.ones(150), "hit": gold_hit, "ng": np.ones(120)}
    clusters = {"tp": pred_u, "np": pred_u, "hit": gold_u, "ng": gold_u}
    point, se, ci = S.cluster_bootstrap(f1, arrays, clusters, n_boot=3000, seed=4)
    p, r = pred_ok.mean(), gold_hit.mean()
    assert point == pytest.approx(2 * p * r / (p + r), rel=1e-12)
    draws = np.random.default_rng(4)  # same draws, one resample per iteration
    reps = []
    for _ in range(3000):
        pick = users[draws.integers(0, len(users), size=len(users))]
        pm = np.concatenate([np.flatnonzero(pred_u == u) for u in pick])
        gm = np.concatenate([np.flatnonzero(gold_u == u) for u in pick])
        pp, rr = pred_ok[pm].mean(), gold_hit[gm].mean() if len(gm) else nan
        reps.append(2 * pp * rr / (pp + rr))
    reps = np.array(reps)
    reps = reps[np.isfinite(reps)]
    assert se == pytest.approx(reps.std(ddof=1), rel=1e-9)
    assert ci == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), rel=1e-9)


def test_bootstrap_is_seeded_and_chunking_does_not_change_draws(monkeypatch):
    y, lab = clustered_data()
    a = S.summarize(y, lab, n_boot=999, seed=3)
    assert a == S.summarize(y, lab, n_boot=999, seed=3)
    assert a.ci_boot != S.summarize(y, lab, n_boot=999, seed=4).ci_boot
    from memeval.stats import clustered

    monkeypatch.setattr(clustered, "_CHUNK_CELLS", 50)  # many small chunks, same random stream
    assert S.summarize(y, lab, n_boot=999, seed=3).ci_boot == pytest.approx(a.ci_boot, rel=1e-12)


# ---- paired comparisons ----------------------------------------------------------------------

def test_paired_bootstrap_diff_matches_loop_and_handles_equal_pairs():
    rng = np.random.default_rng(6)
    lab = np.repeat([f"c{i}" for i in range(10)], 25)
    a = rng.random(250)
    b = a - 0.05 + rng.normal(0, 0.1, 250)
    r = S.paired_bootstrap_diff(a, b, lab, n_boot=2000, seed=9)
    reps = loop_bootstrap(lab, lambda i: a[i].mean() - b[i].mean(), 2000, np.random.default_rng(9))
    assert r["diff"] == pytest.approx(a.mean() - b.mean())
    assert r["se"] == pytest.approx(reps.std(ddof=1), rel=1e-9)
    assert r["ci"] == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), rel=1e-9)
    assert r["se_clustered"] == pytest.approx(S.clustered_se(a - b, lab))
    same = S.paired_bootstrap_diff(a, a, lab, n_boot=500)
    assert same["diff"] == 0.0 and same["ci"] == (0.0, 0.0) and same["se"] == 0.0
    assert S.cluster_signflip_test(a, a, lab)["pvalue"] == 1.0
    assert S.wilcoxon_paired(a, a) == {"n": 250, "n_nonzero": 0, "n_invalid": 0,
                                       "statistic": 0.0, "pvalue": 1.0}
    assert S.mcnemar_exact([1, 0, 1], [1, 0, 1])["pvalue"] == 1.0
    assert S.cohens_d_paired(a, a) == 0.0
    bad = S.paired_bootstrap_diff([1.0, None, 0.0], [0.0, 1.0, nan], ["x", "y", "z"])
    assert (bad["n"], bad["n_invalid"], bad["diff"], bad["ci"]) == (1, 2, 1.0, None)


def test_mcnemar_textbook_example():
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, Table 1 (airway
    # hyper-responsiveness before/after stem-cell transplantation, 21 children): yes/yes 1,
    # yes/no 1, no/yes 7, no/no 12; published exact conditional p = 0.070.
    # By hand: under H0 the b discordant pairs ~ Binomial(b + c = 8, 1/2);
    # p = 2 * P(X <= 1) = 2 * (C(8,0) + C(8,1)) / 2^8 = 18/256 = 0.0703125.
    before = [1] * 2 + [0] * 19
    after = [1, 0] + [1] * 7 + [0] * 12
    r = S.mcnemar_exact(before, after)
    assert (r["b"], r["c"], r["n"]) == (1, 7, 21)
    assert r["pvalue"] == pytest.approx(18 / 256, rel=1e-12)
    assert round(r["pvalue"], 3) == 0.070
    # a second table by hand: b = 3, c = 12 -> 2 * sum_{k<=3} C(15,k) / 2^15
    r = S.mcnemar_exact([1] * 3 + [0] * 12 + [1] * 5, [0] * 3 + [1] * 12 + [1] * 5)
    assert r["pvalue"] == pytest.approx(2 * sum(comb(15, k) for k in range(4)) / 2 ** 15)
    with pytest.raises(ValueError):
        S.mcnemar_exact([0.5], [1])


def test_signflip_exact_matches_scipy_permutation_test():
    rng = np.random.default_rng(12)
    lab = np.repeat(np.arange(8), rng.integers(2, 9, 8))
    a = rng.normal(0.3, 1, len(lab))
    b = rng.normal(0.0, 1, len(lab))
    r = S.cluster_signflip_test(a, b, lab, n_perm=10000)
    assert r["exact"] is True
    ma = np.array([a[lab == c].mean() for c in range(8)])
    mb = np.array([b[lab == c].mean() for c in range(8)])
    ref = sps.permutation_test((ma, mb), lambda x, y, axis: np.mean(x - y, axis=axis),
                               permutation_type="samples", vectorized=True, n_resamples=10000,
                               alternative="two-sided")
    assert r["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert r["pvalue"] == pytest.approx(ref.pvalue, rel=1e-12)


def test_signflip_random_close_to_scipy():
    rng = np.random.default_rng(13)
    lab = np.repeat(np.arange(18), 6)
    a = rng.normal(0.15, 1, len(lab))
    b = rng.normal(0.0, 1, len(lab))
    r = S.cluster_signflip_test(a, b, lab, n_perm=20000, seed=1)
    assert r["exact"] is False  # 2^18 > 20000
    ma = np.bincount(lab, a) / 6
    mb = np.bincount(lab, b) / 6
    ref = sps.permutation_test((ma, mb), lambda x, y, axis: np.mean(x - y, axis=axis),
                               permutation_type="samples", vectorized=True, n_resamples=20000,
                               alternative="two-sided", rng=np.random.default_rng(2))
    mc = 5 * math.sqrt(ref.pvalue * (1 - ref.pvalue) / 20000) * 2  # two independent estimates
    assert abs(r["pvalue"] - ref.pvalue) < mc + 1e-4


def test_wilcoxon_against_exact_enumeration():
    a = np.array([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30])
    b = np.array([0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29])
    d = a - b
    ranks = sps.rankdata(np.abs(d))
    w_plus = ranks[d > 0].sum()
    # all 2^9 sign patterns are equally likely under H0
    null = np.array([sum(r for r, s in zip(ranks, signs) if s) for signs in
                     itertools.product([0, 1], repeat=len(d))])
    p = min(1.0, 2 * min((null <= w_plus).mean(), (null >= w_plus).mean()))
    r = S.wilcoxon_paired(a, b)
    assert r["statistic"] == pytest.approx(min(w_plus, ranks.sum() - w_plus))
    assert r["pvalue"] == pytest.approx(p, rel=1e-12)


def test_effect_sizes():
    # d = (1, 2, 3): mean 2, sd 1 -> d_z = 2
    assert S.cohens_d_paired([2, 4, 6], [1, 2, 3]) == pytest.approx(2.0)
    assert math.isnan(S.cohens_d_paired([2, 3], [1, 2]))  # constant non-zero difference
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 33).astype(float)  # ties
    u = sps.mannwhitneyu(a, b, alternative="two-sided").statistic  # #(a>b) + #(a=b)/2
    assert S.cliffs_delta(a, b) == pytest.approx(2 * u / (40 * 33) - 1, rel=1e-12)
    assert S.cliffs_delta([3, 4], [1, 2]) == 1.0 and S.cliffs_delta([1], [1]) == 0.0


def test_minimum_detectable_effect_vs_statsmodels_power():
    # one-sample z test power (ratio=0) solved for the standardised effect; the design effect
    # divides the sample size
    for n, deff in [(500, 1.0), (3500, 2.5), (60, 1.3)]:
        d = NormalIndPower().solve_power(effect_size=None, nobs1=n / deff, alpha=0.05,
                                         power=0.8, ratio=0.0)
        assert S.minimum_detectable_effect(0.4, n, design_effect=deff) == pytest.approx(
            0.4 * d, rel=1e-4)
    # closed form: (1.959964 + 0.841621) * sd / sqrt(n)
    assert S.minimum_detectable_effect(1.0, 100) == pytest.approx(0.2801585, rel=1e-6)


def test_correct_pvalues_hand_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    assert S.correct_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: p_(i)*m/i = 0.02, 0.02, 0.04, 0.04 -> running min from the top: unchanged
    assert S.correct_pvalues(p, "fdr_bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    out = S.correct_pvalues([0.01, nan, 0.04], "holm")  # NaN is not part of the family
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert S.correct_pvalues([], "fdr_bh") == []
    for bad in ("bonferroni", "hs", ""):
        with pytest.raises(ValueError):
            S.correct_pvalues(p, bad)
    with pytest.raises(TypeError):
        S.correct_pvalues(p)  # method is required


# ---- agreement -------------------------------------------------------------------------------

def test_cohens_kappa_hand_and_statsmodels():
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15. po = 35/50 = 0.7; rater 1 says yes
    # 25/50, rater 2 30/50 -> pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4
    r1 = ["yes"] * 25 + ["no"] * 25
    r2 = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert S.cohens_kappa(r1, r2) == pytest.approx(0.4)
    assert S.cohens_kappa(r1 + [None], r2 + ["yes"]) == pytest.approx(0.4)  # unpaired dropped
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, 80)
    y = np.where(rng.random(80) < 0.6, x, rng.integers(0, 3, 80))
    table = np.zeros((3, 3))
    np.add.at(table, (x, y), 1)
    assert S.cohens_kappa(x, y) == pytest.approx(sm_kappa(table).kappa, rel=1e-12)
    assert math.isnan(S.cohens_kappa(["a", "a"], ["a", "a"]))  # no variation: undefined


KRIPP = [  # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", 4 coders x 12 units
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]


def test_krippendorff_published_example():
    # Published: nominal .743, ordinal .815, interval .849, ratio .797. Nominal by hand:
    # unit 12 has one value (unpairable), so n = 40 pairable values with frequencies
    # n_1..n_5 = 9, 13, 10, 5, 3. Disagreeing coincidences: unit 2 (2,2,2,3): 6 ordered pairs
    # / (m-1 = 3) = 2; unit 6 (1,2,3,4): 12/3 = 4; unit 8 (1,1,1,2): 6/3 = 2 -> total 8.
    # sum_{c != k} n_c n_k = 40^2 - (81+169+100+25+9) = 1216.
    # alpha = 1 - (n-1) * 8 / 1216 = 1 - 312/1216 = 0.743421...
    assert S.krippendorff_alpha(KRIPP) == pytest.approx(1 - 312 / 1216, rel=1e-12)
    for level, published in [("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]:
        assert round(S.krippendorff_alpha(KRIPP, level), 3) == published
    labels = [[None if math.isnan(v) else "abcde"[int(v) - 1] for v in row] for row in KRIPP]
    assert S.krippendorff_alpha(labels) == pytest.approx(1 - 312 / 1216, rel=1e-12)
    with pytest.raises(ValueError):
        S.krippendorff_alpha(KRIPP, "cardinal")


def test_agreement_ci_matches_loop_with_same_draws():
    rng = np.random.default_rng(21)
    truth = rng.integers(0, 4, 60)
    ratings = np.array([np.where(rng.random(60) < 0.75, truth, rng.integers(0, 4, 60))
                        for _ in range(3)], dtype=float)
    ratings[0, :10] = nan  # units keep >= 2 values, so none is dropped
    r = S.agreement_ci(ratings, measure="alpha", n_boot=800, seed=5)
    draws = np.random.default_rng(5)
    reps = np.array([S.krippendorff_alpha(ratings[:, draws.integers(0, 60, size=60)])
                     for _ in range(800)])
    assert r["estimate"] == pytest.approx(S.krippendorff_alpha(ratings), rel=1e-12)
    assert r["se"] == pytest.approx(reps.std(ddof=1), rel=1e-9)
    assert r["ci"] == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), rel=1e-9)
    k = S.agreement_ci(ratings[1:], measure="kappa", n_boot=800, seed=5)
    draws = np.random.default_rng(5)
    reps = np.array([S.cohens_kappa(*ratings[1:, draws.integers(0, 60, size=60)])
                     for _ in range(800)])
    assert k["estimate"] == pytest.approx(S.cohens_kappa(*ratings[1:]), rel=1e-12)
    assert k["se"] == pytest.approx(reps.std(ddof=1), rel=1e-9)
    o = S.agreement_ci(ratings, measure="alpha", scale="ordinal", n_boot=300, seed=5,
                       clusters=np.arange(60) // 6)
    assert o["n_clusters"] == 10 and o["ci"][0] <= o["estimate"] <= o["ci"][1]
    flat = S.agreement_ci([[1, 1, 1], [1, 1, 1]], measure="kappa", n_boot=50)
    assert flat["estimate"] is flat["se"] is flat["ci"] is None  # no variation: undefined
