"""Paired statistics for gating fine-tuned models (see docs/statistics.md).

The entry point is :func:`compare_paired`; everything else is exported for power planning,
safety-rate gates, multiplicity and direct use of the underlying tests.
"""

from harness.stats.binary import mcnemar_exact, tango_score_interval, tango_score_statistic
from harness.stats.clusters import cr1_variance_of_mean, design_effect
from harness.stats.compare import Comparison, compare_paired
from harness.stats.continuous import wilcoxon_signed_rank
from harness.stats.evidence import SecondaryTest
from harness.stats.exact import exact_p_greater, exact_p_less
from harness.stats.intervals import (
    RateCheck,
    check_rate,
    clopper_pearson_interval,
    wilson_interval,
    zero_failure_required_n,
    zero_failure_upper_bound,
)
from harness.stats.multiplicity import adjust_pvalues, benjamini_hochberg, holm
from harness.stats.power import (
    mde_paired_binary,
    mde_paired_continuous,
    power_paired_binary,
    power_paired_continuous,
    required_n_paired_binary,
    required_n_paired_continuous,
    required_n_two_proportions,
)
from harness.stats.sequential import SequentialResult, sequential_compare

__all__ = [
    "Comparison",
    "RateCheck",
    "SecondaryTest",
    "SequentialResult",
    "adjust_pvalues",
    "benjamini_hochberg",
    "check_rate",
    "clopper_pearson_interval",
    "compare_paired",
    "cr1_variance_of_mean",
    "design_effect",
    "exact_p_greater",
    "exact_p_less",
    "holm",
    "mcnemar_exact",
    "mde_paired_binary",
    "mde_paired_continuous",
    "power_paired_binary",
    "power_paired_continuous",
    "required_n_paired_binary",
    "required_n_paired_continuous",
    "required_n_two_proportions",
    "sequential_compare",
    "tango_score_interval",
    "tango_score_statistic",
    "wilcoxon_signed_rank",
    "wilson_interval",
    "zero_failure_required_n",
    "zero_failure_upper_bound",
]
