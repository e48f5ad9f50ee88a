"""Statistics memeval reports (spec: statistics.md), one module per concern:

- `clustered`: clustered standard errors and cluster-bootstrap CIs of means and ratios;
- `paired`: paired comparisons, effect sizes, multiple-comparison correction;
- `agreement`: judge agreement (Cohen's kappa, Krippendorff's alpha) with CIs.

Everything public is importable from `memeval.stats`."""

from memeval.stats.agreement import agreement_ci, cohens_kappa, krippendorff_alpha
from memeval.stats.clustered import (Summary, cluster_bootstrap, cluster_codes, clustered_ratio_se,
                                     clustered_se, design_effect, summarize, summarize_ratio)
from memeval.stats.paired import (cliffs_delta, cohens_d_paired, cluster_signflip_test,
                                  correct_pvalues, mcnemar_exact, minimum_detectable_effect,
                                  paired_bootstrap_diff, wilcoxon_paired)

__all__ = ["Summary", "agreement_ci", "cliffs_delta", "cluster_bootstrap", "cluster_codes",
           "clustered_ratio_se", "clustered_se", "cohens_d_paired", "cohens_kappa",
           "correct_pvalues", "design_effect", "krippendorff_alpha", "mcnemar_exact",
           "minimum_detectable_effect", "paired_bootstrap_diff", "summarize", "summarize_ratio",
           "wilcoxon_paired", "cluster_signflip_test"]
