#!/usr/bin/env python
"""Calibration study for ``harness.stats``: type-I error and power of every decision path.

For each path it simulates A/A comparisons (or, for margin tests, comparisons whose true
difference sits exactly on the null boundary) and counts how often the gate wrongly passes, then
simulates a designed effect and compares the pass rate with the analytic power.

    python scripts/calibrate_stats.py               # full study (~10 min on 2 cores), prints the table
    python scripts/calibrate_stats.py --write-docs  # ... and replaces the table in docs/statistics.md
    python scripts/calibrate_stats.py --quick       # smoke run: few simulations, bounds not meaningful

Bounds: type-I error at alpha = 0.05 within [0.04, 0.06] ([0.02, 0.06] for exact tests, which may
be conservative); simulated power within 0.05 of the analytic value.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.stats import (  # noqa: E402
    check_rate,
    clopper_pearson_interval,
    compare_paired,
    mcnemar_exact,
    power_paired_binary,
    power_paired_continuous,
    tango_score_statistic,
    wilson_interval,
)
from harness.stats.exact import EXACT_BELOW, exact_p_greater, tango_statistics  # noqa: E402
from harness.stats.sequential import bets, log_wealth  # noqa: E402

ALPHA = 0.05
SEED = 20240601
DOCS = ROOT / "docs" / "statistics.md"
START, END = "<!-- calibration-table:start -->", "<!-- calibration-table:end -->"
Flags = dict[str, bool]


# ---------------------------------------------------------------- designs (shared by sim and analytic)
BIN_N, BIN_ACC, BIN_DISC, BIN_EFFECT = 870, 0.80, 0.10, 0.03
NI_MARGIN, NI_EFFECT = 0.02, 0.01
CONT_N, CONT_SD_E, CONT_EFFECT = 200, 0.15, 0.035
EQ_MARGIN = 0.045
CORPUS_N, CORPUS_RECALL_GAIN = 300, 0.04
CL_G, CL_M, CL_SD_A, CL_SD_E, CL_EFFECT = 60, 5, 0.10, 0.20, 0.045
CB_G, CB_M, CB_PSI, CB_CONC, CB_EFFECT = 100, 6, 0.20, 1.0, 0.06
RATE_N, RATE_BOUND, RATE_TRUE = 500, 0.02, 0.005
SEQ_N, SEQ_CHUNK, SEQ_EFFECT = BIN_N, 50, 0.03  # the sequential gate: the binary NI design, looked at per item
# Exact paths, by enumeration: (n, margin) of the NI designs; the nuisance (discordance) values scanned.
EXACT_DESIGNS = ((30, 0.10), (60, 0.05), (105, 0.03), (300, 0.02))
EXACT_PSI = (1.0, 1.5, 2.0, 3.0, 5.0, 8.0)  # multiples of the margin (the smallest discordance on the boundary)
CP_NS = (20, 50, 105, 300)


def _binary_pairs(rng: np.random.Generator, n: int, diff: float) -> tuple[np.ndarray, np.ndarray]:
    """Items with reference accuracy BIN_ACC and discordance BIN_DISC; candidate - reference = diff."""
    p10, p01 = (BIN_DISC + diff) / 2, (BIN_DISC - diff) / 2
    p11 = BIN_ACC - p01
    cell = rng.choice(4, size=n, p=[p11, p10, p01, 1 - p11 - p10 - p01])
    cand = np.isin(cell, (0, 1)).astype(int)
    ref = np.isin(cell, (0, 2)).astype(int)
    return cand, ref


def sim_binary(rng: np.random.Generator, alt: bool) -> Flags:
    cand, ref = _binary_pairs(rng, BIN_N, BIN_EFFECT if alt else 0.0)
    c = compare_paired(cand, ref, kind="binary", decision="superiority", alpha=ALPHA)
    return {"binary-mcnemar": c.verdict == "PASS", "binary-mcnemar-2s": c.p_value_two_sided < ALPHA}


def sim_binary_ni(rng: np.random.Generator, alt: bool) -> Flags:
    cand, ref = _binary_pairs(rng, BIN_N, NI_EFFECT if alt else -NI_MARGIN)
    c = compare_paired(cand, ref, kind="binary", margin=NI_MARGIN, alpha=ALPHA)
    return {"binary-tango-ni": c.verdict == "PASS"}


def _secondary_p(comparison: object, prefix: str) -> float:
    for sec in comparison.secondary:  # type: ignore[attr-defined]
        if sec.name.startswith(prefix):
            return float(sec.p_value)
    raise KeyError(prefix)


def sim_continuous(rng: np.random.Generator, alt: bool) -> Flags:
    item = rng.normal(0.5, 0.2, CONT_N)
    ref = item + rng.normal(0, CONT_SD_E, CONT_N)
    cand = item + rng.normal(CONT_EFFECT if alt else 0.0, CONT_SD_E, CONT_N)
    c = compare_paired(cand, ref, kind="continuous", alpha=ALPHA, seed=int(rng.integers(2**31)))
    return {
        "continuous-t": c.verdict == "PASS",
        "continuous-wilcoxon": _secondary_p(c, "Wilcoxon") < ALPHA,
        "continuous-bootstrap": _secondary_p(c, "paired bootstrap") < ALPHA,
    }


def sim_equivalence(rng: np.random.Generator, alt: bool) -> Flags:
    item = rng.normal(0.5, 0.2, CONT_N)
    ref = item + rng.normal(0, CONT_SD_E, CONT_N)
    cand = item + rng.normal(0.0 if alt else EQ_MARGIN, CONT_SD_E, CONT_N)
    c = compare_paired(
        cand,
        ref,
        kind="continuous",
        decision="equivalence",
        margin=EQ_MARGIN,
        alpha=ALPHA,
        seed=int(rng.integers(2**31)),
    )
    return {"continuous-tost": c.verdict == "PASS"}


def corpus_f1(records: np.ndarray) -> float:
    """Micro F1 over per-item (tp, fp, fn) counts: a corpus metric that does not decompose."""
    tp, fp, fn = records.sum(axis=0)
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def _corpus_side(rng: np.random.Generator, gold: np.ndarray, recall: np.ndarray) -> np.ndarray:
    tp = rng.binomial(gold, recall)
    return np.stack([tp, rng.poisson(0.6, gold.size), gold - tp], axis=1)


def _corpus_items(rng: np.random.Generator, n: int, alt: bool) -> tuple[np.ndarray, np.ndarray]:
    gold = rng.poisson(3.0, n) + 1
    recall = rng.beta(6.0, 3.0, n)  # item difficulty shared by both sides: the pairing
    gain = CORPUS_RECALL_GAIN if alt else 0.0
    return _corpus_side(rng, gold, np.minimum(recall + gain, 1.0)), _corpus_side(rng, gold, recall)


def sim_corpus(rng: np.random.Generator, alt: bool) -> Flags:
    cand, ref = _corpus_items(rng, CORPUS_N, alt)
    c = compare_paired(cand, ref, kind="corpus", metric=corpus_f1, alpha=ALPHA, seed=int(rng.integers(2**31)))
    return {"corpus-bootstrap": c.verdict == "PASS", "corpus-permutation": c.p_value_two_sided < ALPHA}


def sim_clustered_continuous(rng: np.random.Generator, alt: bool) -> Flags:
    clusters = np.repeat(np.arange(CL_G), CL_M)
    n = CL_G * CL_M
    d = (CL_EFFECT if alt else 0.0) + rng.normal(0, CL_SD_A, CL_G)[clusters] + rng.normal(0, CL_SD_E, n)
    ref = rng.normal(0.5, 0.2, n)
    c = compare_paired(ref + d, ref, kind="continuous", clusters=clusters, alpha=ALPHA, seed=int(rng.integers(2**31)))
    naive = stats.ttest_1samp(d, 0.0, alternative="greater").pvalue
    return {
        "clustered-t": c.verdict == "PASS",
        "clustered-bootstrap": _secondary_p(c, "paired cluster bootstrap") < ALPHA,
        "clustered-t-naive": naive < ALPHA,
    }


def _beta_for_mean(mean: float) -> tuple[float, float]:
    return CB_CONC * mean, CB_CONC * (1 - mean)


def sim_clustered_binary(rng: np.random.Generator, alt: bool) -> Flags:
    """Each source question (cluster) leans one way: its templates tend to flip together."""
    clusters = np.repeat(np.arange(CB_G), CB_M)
    n = CB_G * CB_M
    lean = rng.beta(*_beta_for_mean(0.5 + (CB_EFFECT if alt else 0.0) / (2 * CB_PSI)), CB_G)[clusters]
    ref = (rng.random(n) < 0.7).astype(int)
    flips = rng.random(n) < CB_PSI
    up = rng.random(n) < lean  # a flip that favours the candidate
    cand = ref.copy()
    # A flip favouring the candidate makes it right where the reference was wrong (and vice versa);
    # items whose flip direction is impossible for their reference outcome get the mirrored change.
    cand[flips & up] = 1
    ref[flips & up] = 0
    cand[flips & ~up] = 0
    ref[flips & ~up] = 1
    c = compare_paired(cand, ref, kind="binary", decision="superiority", clusters=clusters, alpha=ALPHA)
    b = int(np.sum((cand == 1) & (ref == 0)))
    naive = mcnemar_exact(b, int(np.sum(flips)) - b, alternative="greater")
    return {"clustered-binary": c.verdict == "PASS", "clustered-binary-naive": naive < ALPHA}


def first_crossing(d: np.ndarray, null: float, side: int) -> int | None:
    """The first item (1-based) at which the betting wealth against ``null`` reaches 1/alpha, or None."""
    z = (d + 1.0) / 2.0
    wealth = log_wealth(z, bets(z, ALPHA), (null + 1.0) / 2.0, side)
    hits = np.flatnonzero(wealth >= math.log(1.0 / ALPHA))
    return int(hits[0]) + 1 if hits.size else None


def sequential_rule(d: np.ndarray, u: float | None, margin: float = NI_MARGIN) -> tuple[str, int]:
    """harness.stats.sequential's decision looked at after every item: (verdict, items used).

    The same rule as ``sequential_compare`` called after each item (tests/stats/test_sequential.py checks they
    agree); computed once per path here so 10,000 paths take seconds.
    """
    up, down = first_crossing(d, -margin, +1), first_crossing(d, -margin, -1)
    if up is not None and (down is None or up <= down):
        return "PASS", up
    if down is not None:
        return "FAIL", down
    if u is not None:  # the randomized final look at the last item (Ramdas & Manole 2023)
        z = (d + 1.0) / 2.0
        lam = bets(z, ALPHA)
        m0 = (-margin + 1.0) / 2.0
        up_last, down_last = log_wealth(z, lam, m0, +1)[-1], log_wealth(z, lam, m0, -1)[-1]
        if up_last - math.log(u) >= math.log(1.0 / ALPHA) and up_last > down_last:
            return "PASS", d.size
        if down_last - math.log(u) >= math.log(1.0 / ALPHA) and down_last > up_last:
            return "FAIL", d.size
    return "INCONCLUSIVE", d.size


def naive_peeking(cand: np.ndarray, ref: np.ndarray) -> bool:
    """The miscalibrated rule: stop at the first chunk whose fixed-n Tango p is below alpha."""
    d = cand - ref
    for end in range(SEQ_CHUNK, d.size + 1, SEQ_CHUNK):
        b, c = int(np.sum(d[:end] == 1)), int(np.sum(d[:end] == -1))
        if stats.norm.sf(tango_score_statistic(b, c, end, -NI_MARGIN)) < ALPHA:
            return True
    return False


def sim_sequential(rng: np.random.Generator, alt: bool) -> Flags:
    cand, ref = _binary_pairs(rng, SEQ_N, SEQ_EFFECT if alt else -NI_MARGIN)
    d = (cand - ref).astype(float)
    verdict, used = sequential_rule(d, float(1.0 - rng.random()))
    deterministic, _ = sequential_rule(d, None)
    return {
        "seq-betting": verdict == "PASS",
        "seq-betting:items": used,  # type: ignore[dict-item]
        "seq-betting-det": deterministic == "PASS",
        "seq-naive": naive_peeking(cand, ref),
    }


def sim_rate(rng: np.random.Generator, alt: bool) -> Flags:
    k = int(rng.binomial(RATE_N, RATE_TRUE if alt else RATE_BOUND))
    r = check_rate(k, RATE_N, bound=RATE_BOUND, direction="at_most", alpha=ALPHA)
    return {"rate-clopper-pearson": r.verdict == "PASS"}


# ---------------------------------------------------------------- analytic power
def _corpus_delta_method_power(n_pop: int = 2_000_000) -> float:
    """Delta-method power of the corpus F1 difference, population moments from a large draw."""
    rng = np.random.default_rng(SEED + 99)
    cand, ref = _corpus_items(rng, n_pop, alt=True)

    def influence(side: np.ndarray) -> tuple[float, np.ndarray]:
        a = 2.0 * side[:, 0]
        b = 2.0 * side[:, 0] + side[:, 1] + side[:, 2]
        f = a.mean() / b.mean()
        return float(f), (a - f * b) / b.mean()

    f_c, u_c = influence(cand)
    f_r, u_r = influence(ref)
    sd = float(np.std(u_c - u_r))
    return float(stats.norm.cdf(math.sqrt(CORPUS_N) * (f_c - f_r) / sd - stats.norm.isf(ALPHA)))


def _corpus_two_sided_power(one_sided: float) -> float:
    shift = stats.norm.ppf(one_sided) + stats.norm.isf(ALPHA)
    return float(stats.norm.cdf(shift - stats.norm.isf(ALPHA / 2)))


def _clustered_binary_power() -> float:
    def moments(mean: float) -> tuple[float, float]:
        a, b = _beta_for_mean(mean)
        return mean, a * b / ((a + b) ** 2 * (a + b + 1))

    mean, var = moments(0.5 + CB_EFFECT / (2 * CB_PSI))
    e_sq = 4 * var + (2 * mean - 1) ** 2
    cluster_var = 4 * CB_PSI**2 * var + (CB_PSI - CB_PSI**2 * e_sq) / CB_M
    ncp = CB_EFFECT / math.sqrt(cluster_var / CB_G)
    return float(stats.nct.sf(stats.t.isf(ALPHA, CB_G - 1), CB_G - 1, ncp))


def _rate_power() -> tuple[float, float]:
    """Exact: the largest k that passes, then binomial tail probabilities at the bound and the truth."""
    k_pass = max(
        k
        for k in range(RATE_N + 1)
        if k <= RATE_N * RATE_BOUND
        and check_rate(k, RATE_N, bound=RATE_BOUND, direction="at_most", alpha=ALPHA).verdict == "PASS"
    )
    return float(stats.binom.cdf(k_pass, RATE_N, RATE_TRUE)), float(stats.binom.cdf(k_pass, RATE_N, RATE_BOUND))


def analytic_powers() -> dict[str, float | None]:
    sd_d = math.sqrt(2) * CONT_SD_E
    z = stats.norm.isf(ALPHA)
    p_prime = stats.norm.cdf(math.sqrt(2) * CONT_EFFECT / sd_d)  # P(D + D' > 0) for normal D
    cl_se = math.sqrt(CL_SD_A**2 / CL_G + CL_SD_E**2 / (CL_G * CL_M))
    corpus = _corpus_delta_method_power()
    eq_shift = math.sqrt(CONT_N) * EQ_MARGIN / sd_d
    return {
        "binary-mcnemar": power_paired_binary(BIN_N, BIN_DISC, BIN_EFFECT, alpha=ALPHA),
        "binary-mcnemar-2s": power_paired_binary(BIN_N, BIN_DISC, BIN_EFFECT, alpha=ALPHA, alternative="two-sided"),
        "binary-tango-ni": power_paired_binary(BIN_N, BIN_DISC, NI_EFFECT, margin=NI_MARGIN, alpha=ALPHA),
        "continuous-t": power_paired_continuous(CONT_N, sd_d, CONT_EFFECT, alpha=ALPHA),
        # Noether (1987): n = (z_a + z_b)^2 / (3 (p' - 1/2)^2) for the signed-rank test.
        "continuous-wilcoxon": float(stats.norm.cdf(math.sqrt(3 * CONT_N) * (p_prime - 0.5) - z)),
        "continuous-bootstrap": float(stats.norm.cdf(math.sqrt(CONT_N) * CONT_EFFECT / sd_d - z)),
        "continuous-tost": float(2 * stats.norm.cdf(eq_shift - z) - 1),
        "corpus-bootstrap": corpus,
        "corpus-permutation": _corpus_two_sided_power(corpus),
        "clustered-t": float(stats.nct.sf(stats.t.isf(ALPHA, CL_G - 1), CL_G - 1, CL_EFFECT / cl_se)),
        "clustered-bootstrap": float(stats.norm.cdf(CL_EFFECT / cl_se - z)),
        "clustered-t-naive": None,
        "clustered-binary": _clustered_binary_power(),
        "clustered-binary-naive": None,
        "rate-clopper-pearson": _rate_power()[0],
        "seq-betting": None,
        "seq-betting-det": None,
        "seq-naive": None,
    }


# ---------------------------------------------------------------- rows and the runner
@dataclass(frozen=True)
class Path_:
    key: str
    scenario: str
    label: str
    test: str
    design: str
    exact: bool = False
    contrast: bool = False  # shown for comparison only; no bound applies
    bounds: tuple[float, float] | None = None  # overrides the default type-I bounds


PATHS = (
    Path_(
        "binary-mcnemar",
        "binary",
        "binary, superiority (margin 0)",
        "exact McNemar, one-sided",
        f"n={BIN_N}, acc {BIN_ACC}, discordance {BIN_DISC}; effect +{BIN_EFFECT}",
        exact=True,
    ),
    Path_(
        "binary-mcnemar-2s",
        "binary",
        "binary, no-difference p (A/B report)",
        "exact McNemar, two-sided",
        "as above; the issue's design (80% power)",
        exact=True,
    ),
    Path_(
        "binary-tango-ni",
        "binary-ni",
        "binary, non-inferiority (CI decision)",
        "Tango score interval",
        f"n={BIN_N}, margin {NI_MARGIN}; null at -{NI_MARGIN}, effect +{NI_EFFECT}",
    ),
    Path_(
        "continuous-t",
        "continuous",
        "continuous, superiority (margin 0)",
        "paired t",
        f"n={CONT_N}, SD of differences {math.sqrt(2) * CONT_SD_E:.3f}; effect +{CONT_EFFECT}",
    ),
    Path_(
        "continuous-wilcoxon",
        "continuous",
        "continuous, secondary",
        "Wilcoxon signed-rank",
        "as above (Noether power)",
    ),
    Path_(
        "continuous-bootstrap",
        "continuous",
        "continuous, secondary",
        "paired bootstrap (percentile)",
        "as above",
    ),
    Path_(
        "continuous-tost",
        "equivalence",
        "continuous, equivalence",
        "paired t, TOST",
        f"n={CONT_N}, margin {EQ_MARGIN}; null at +{EQ_MARGIN}, effect 0",
    ),
    Path_(
        "corpus-bootstrap",
        "corpus",
        "corpus F1, superiority (margin 0)",
        "paired bootstrap (percentile)",
        f"n={CORPUS_N}, recall +{CORPUS_RECALL_GAIN} (delta-method power)",
    ),
    Path_(
        "corpus-permutation",
        "corpus",
        "corpus F1, no-difference p",
        "paired approximate randomization",
        "as above, two-sided",
    ),
    Path_(
        "clustered-t",
        "clustered-continuous",
        "clustered continuous, superiority",
        "cluster-robust t (CR1)",
        f"{CL_G} clusters x {CL_M}, ICC of differences 0.2; effect +{CL_EFFECT}",
    ),
    Path_(
        "clustered-bootstrap",
        "clustered-continuous",
        "clustered continuous, secondary",
        "paired cluster bootstrap",
        "as above",
    ),
    Path_(
        "clustered-t-naive",
        "clustered-continuous",
        "clustered continuous, clusters ignored",
        "paired t (wrong here)",
        "as above: why clusters matter",
        contrast=True,
    ),
    Path_(
        "clustered-binary",
        "clustered-binary",
        "clustered binary, superiority",
        "Tango score, Rao-Scott",
        f"{CB_G} clusters x {CB_M}, discordance {CB_PSI}; effect +{CB_EFFECT}",
    ),
    Path_(
        "clustered-binary-naive",
        "clustered-binary",
        "clustered binary, clusters ignored",
        "exact McNemar (wrong here)",
        "as above: why clusters matter",
        contrast=True,
    ),
    Path_(
        "rate-clopper-pearson",
        "rate",
        "safety rate <= 2%",
        "Clopper-Pearson (check_rate)",
        f"n={RATE_N}; null rate {RATE_BOUND}, true rate {RATE_TRUE} (exact power)",
        exact=True,
    ),
)

PATHS = (
    *PATHS,
    Path_(
        "seq-betting",
        "sequential",
        "binary NI, sequential (gate default)",
        "betting CS, every item; randomized final look",
        f"n<={SEQ_N}, margin {NI_MARGIN}, discordance {BIN_DISC}; null at -{NI_MARGIN}, effect +{SEQ_EFFECT}",
    ),
    Path_(
        "seq-betting-det",
        "sequential",
        "binary NI, sequential (deterministic)",
        "betting CS, every item; Ville only",
        "as above: valid but conservative on a finite horizon",
        bounds=(0.0, 0.06),
    ),
    Path_(
        "seq-naive",
        "sequential",
        "binary NI, naive peeking",
        f"Tango p < alpha at any of {SEQ_N // SEQ_CHUNK} looks (wrong)",
        f"as above, a look every {SEQ_CHUNK} items: why a confidence sequence",
        contrast=True,
    ),
)

SIMULATORS: dict[str, Callable[[np.random.Generator, bool], Flags]] = {
    "binary": sim_binary,
    "binary-ni": sim_binary_ni,
    "continuous": sim_continuous,
    "equivalence": sim_equivalence,
    "corpus": sim_corpus,
    "clustered-continuous": sim_clustered_continuous,
    "clustered-binary": sim_clustered_binary,
    "rate": sim_rate,
    "sequential": sim_sequential,
}
# (null simulations, power simulations) for the full run.
FULL_SIMS = {
    "binary": (10_000, 3_000),
    "binary-ni": (10_000, 3_000),
    "continuous": (10_000, 3_000),
    "equivalence": (4_000, 2_000),
    "corpus": (3_000, 2_000),
    "clustered-continuous": (4_000, 2_000),
    "clustered-binary": (10_000, 3_000),
    "rate": (20_000, 5_000),
    "sequential": (10_000, 3_000),
}
CHUNK = 250


def run_chunk(task: tuple[str, bool, int, int]) -> tuple[str, bool, int, dict[str, int]]:
    scenario, alt, chunk, size = task
    order = list(SIMULATORS).index(scenario)
    rng = np.random.default_rng(np.random.SeedSequence([SEED, order, int(alt), chunk]))
    counts: dict[str, int] = {}
    for _ in range(size):
        for key, hit in SIMULATORS[scenario](rng, alt).items():
            counts[key] = counts.get(key, 0) + int(hit)
    return scenario, alt, size, counts


def simulate(sims: dict[str, tuple[int, int]], workers: int) -> dict[tuple[str, bool], tuple[int, dict[str, int]]]:
    tasks = []
    for scenario, (n_null, n_alt) in sims.items():
        for alt, total in ((False, n_null), (True, n_alt)):
            for chunk, start in enumerate(range(0, total, CHUNK)):
                tasks.append((scenario, alt, chunk, min(CHUNK, total - start)))
    results: dict[tuple[str, bool], tuple[int, dict[str, int]]] = {}

    def add(res: tuple[str, bool, int, dict[str, int]]) -> None:
        scenario, alt, size, counts = res
        done, acc = results.get((scenario, alt), (0, {}))
        for key, value in counts.items():
            acc[key] = acc.get(key, 0) + value
        results[(scenario, alt)] = (done + size, acc)

    if workers <= 1:
        for task in tasks:
            add(run_chunk(task))
    else:
        with get_context("fork").Pool(workers) as pool:
            for res in pool.imap_unordered(run_chunk, tasks):
                add(res)
    return results


@dataclass(frozen=True)
class Row:
    path: Path_
    n_null: int
    type1: float
    n_alt: int
    power: float
    analytic: float | None

    mean_items: float | None = None

    @property
    def type1_bounds(self) -> tuple[float, float] | None:
        if self.path.contrast:
            return None
        if self.path.bounds is not None:
            return self.path.bounds
        return (0.02, 0.06) if self.path.exact else (0.04, 0.06)

    @property
    def ok(self) -> bool | None:
        bounds = self.type1_bounds
        if bounds is None:
            return None
        power_ok = self.analytic is None or abs(self.power - self.analytic) <= 0.05
        return bounds[0] <= self.type1 <= bounds[1] and power_ok


def calibrate(sims: dict[str, tuple[int, int]], workers: int = 2) -> list[Row]:
    """Run the study; the core function the quick-mode test exercises."""
    results = simulate(sims, workers)
    analytic = analytic_powers()
    rows = []
    for path in PATHS:
        if path.scenario not in sims:
            continue
        n_null, null_counts = results[(path.scenario, False)]
        n_alt, alt_counts = results[(path.scenario, True)]
        rows.append(
            Row(
                path,
                n_null,
                null_counts.get(path.key, 0) / n_null,
                n_alt,
                alt_counts.get(path.key, 0) / n_alt,
                analytic[path.key],
                alt_counts[f"{path.key}:items"] / n_alt if f"{path.key}:items" in alt_counts else None,
            )
        )
    return rows


def markdown(rows: list[Row]) -> str:
    head = (
        "| path | test | design | A/A sims | type-I at 0.05 | bound | power sims | power | analytic | ok |\n"
        "|---|---|---|---:|---:|---|---:|---:|---:|---|"
    )
    lines = [head]
    for r in rows:
        bounds = r.type1_bounds
        bound = "—" if bounds is None else f"[{bounds[0]:.2f}, {bounds[1]:.2f}]"
        analytic = "—" if r.analytic is None else f"{r.analytic:.3f}"
        ok = "contrast" if r.ok is None else ("yes" if r.ok else "**NO**")
        design = r.path.design if r.mean_items is None else f"{r.path.design}; mean items used {r.mean_items:.0f}"
        lines.append(
            f"| {r.path.label} | {r.path.test} | {design} | {r.n_null} | {r.type1:.4f} | {bound} | "
            f"{r.n_alt} | {r.power:.3f} | {analytic} | {ok} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- exact paths, by enumeration
@dataclass(frozen=True)
class ExactRow:
    label: str
    test: str
    design: str
    type1: float  # the largest false-PASS probability over the nuisance values scanned
    contrast: bool = False

    @property
    def ok(self) -> bool | None:
        return None if self.contrast else 0.0 <= self.type1 <= 0.06


def _critical_b(n: int, margin: float, exact: bool) -> np.ndarray:
    """For each m = b + c, the smallest b the gate's rule rejects H0: difference <= -margin at (or m + 1)."""
    z_alpha = float(stats.norm.isf(ALPHA))
    k = np.empty(n + 1, dtype=np.int64)
    for m in range(n + 1):
        if exact and m < EXACT_BELOW:
            lo, hi = 0, m + 1  # p decreases in b at fixed m (more extreme): binary search the first rejection
            while lo < hi:
                mid = (lo + hi) // 2
                if exact_p_greater(mid, m - mid, n, -margin) < ALPHA:
                    hi = mid
                else:
                    lo = mid + 1
            k[m] = lo
        else:
            bs = np.arange(m + 1, dtype=float)
            hits = np.flatnonzero(tango_statistics(bs, m - bs, n, -margin) >= z_alpha)
            k[m] = hits[0] if hits.size else m + 1
    return k


def _size(k: np.ndarray, n: int, margin: float, psi: float) -> float:
    """P(the rule rejects) on the boundary difference = -margin at discordance psi (exact)."""
    m = np.arange(n + 1)
    pi = (psi - margin) / (2.0 * psi)
    return float(np.dot(stats.binom.pmf(m, n, psi), stats.binom.sf(k - 1, m, pi)))


def _miss(bounds: np.ndarray, n: int, p: np.ndarray, upper: bool) -> np.ndarray:
    """P(the one-sided bound misses p) for each p: sum of binomial mass where the bound is on the wrong side."""
    pmf = stats.binom.pmf(np.arange(n + 1)[None, :], n, p[:, None])
    wrong = bounds[None, :] < p[:, None] if upper else bounds[None, :] > p[:, None]
    return np.asarray((pmf * wrong).sum(axis=1))


def exact_rows() -> list[ExactRow]:
    rows = []
    for n, margin in EXACT_DESIGNS:
        psis = [f * margin for f in EXACT_PSI if f * margin < 1.0]
        gate = _critical_b(n, margin, exact=True)
        tango = _critical_b(n, margin, exact=False)
        g = [_size(gate, n, margin, psi) for psi in psis]
        t = [_size(tango, n, margin, psi) for psi in psis]
        where = f"n={n}, margin {margin}; null at -{margin}, discordance {psis[0]:g}..{psis[-1]:g}"
        worst_g, worst_t = int(np.argmax(g)), int(np.argmax(t))
        rows.append(
            ExactRow(
                "binary NI, few discordant pairs",
                f"exact unconditional below {EXACT_BELOW} discordant, else Tango",
                f"{where} (worst at {psis[worst_g]:g})",
                max(g),
            )
        )
        rows.append(
            ExactRow(
                "binary NI, Tango only",
                "Tango score (the asymptotic path)",
                f"as above (worst at {psis[worst_t]:g})",
                max(t),
                contrast=True,
            )
        )
    grid = np.linspace(0.001, 0.999, 1999)
    for n in CP_NS:
        ks = range(n + 1)
        cp = np.array([clopper_pearson_interval(k, n, 2 * ALPHA) for k in ks])
        wi = np.array([wilson_interval(k, n, 2 * ALPHA) for k in ks])
        cp_miss = np.maximum(_miss(cp[:, 1], n, grid, True), _miss(cp[:, 0], n, grid, False))
        wi_miss = np.maximum(_miss(wi[:, 1], n, grid, True), _miss(wi[:, 0], n, grid, False))
        cover = 1.0 - _miss(cp[:, 1], n, grid, True) - _miss(cp[:, 0], n, grid, False)
        rows.append(
            ExactRow(
                "rate floor / ceiling (check_rate)",
                "Clopper-Pearson one-sided bound",
                f"n={n}, every rate in [0.001, 0.999]; 90% two-sided coverage min {cover.min():.3f}, "
                f"mean {cover.mean():.3f}",
                float(cp_miss.max()),
            )
        )
        rows.append(
            ExactRow(
                "rate floor / ceiling",
                "Wilson one-sided bound (not used)",
                "as above",
                float(wi_miss.max()),
                contrast=True,
            )
        )
    return rows


def exact_markdown(rows: list[ExactRow]) -> str:
    head = "| path | test | design | largest type-I at 0.05 (exact) | bound | ok |\n|---|---|---|---:|---|---|"
    lines = [head]
    for r in rows:
        bound = "—" if r.contrast else "[0, 0.06]"
        ok = "contrast" if r.ok is None else ("yes" if r.ok else "**NO**")
        lines.append(f"| {r.label} | {r.test} | {r.design} | {r.type1:.4f} | {bound} | {ok} |")
    return "\n".join(lines)


def write_docs(table: str, footer: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{DOCS} has no {START} ... {END} markers: add them where the table belongs")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    DOCS.write_text(f"{before}{START}\n{table}\n\n{footer}\n{END}{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run with few simulations")
    parser.add_argument("--workers", type=int, default=2, help="processes (at most 2 on CI machines)")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the table in {DOCS.name}")
    args = parser.parse_args(argv)
    sims = {k: (100, 50) for k in FULL_SIMS} if args.quick else FULL_SIMS
    start = time.monotonic()
    rows = calibrate(sims, workers=max(1, min(args.workers, 2)))
    exact = exact_rows()
    wall = time.monotonic() - start
    table = (
        markdown(rows) + "\n\nExact paths, computed by enumeration (no simulation error):\n\n" + exact_markdown(exact)
    )
    footer = (
        f"Generated by `python scripts/calibrate_stats.py --write-docs` (seed {SEED}, alpha {ALPHA}, "
        f"{max(1, min(args.workers, 2))} workers, {wall:.0f} s wall)."
    )
    print(table)
    print()
    print(footer)
    failed = [r.path.key for r in rows if r.ok is False] + [r.design for r in exact if r.ok is False]
    if args.write_docs:
        if args.quick:
            raise SystemExit("--quick results are not a calibration: run without --quick to write the docs")
        write_docs(table, footer)
        print(f"wrote {DOCS}")
    if failed and not args.quick:
        print(f"OUT OF BOUNDS: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
