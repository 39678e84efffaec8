"""The hard testbed's statistics on constructed numbers: seed bootstrap intervals, verdicts, the paired
analysis against full BDGF and the "is the testbed doing its job?" statement."""
from __future__ import annotations

import numpy as np
import pytest

from bench.testbed import stats
from bench.testbed.report_hard import job_lines


def test_constant_difference_has_that_constant_as_interval():
    ci = stats.bootstrap_ci([0.0125] * 5)
    assert ci["mean"] == ci["lo"] == ci["hi"] == 0.0125 and ci["n"] == 5
    assert stats.verdict(ci, "ablation") == "helps"
    zero = stats.bootstrap_ci([0.0] * 5)
    assert zero["lo"] == zero["hi"] == 0.0 and stats.verdict(zero, "ablation") == "no effect"


def test_interval_is_a_seeded_percentile_interval_of_the_mean():
    values = [0.02, 0.035, 0.01, 0.028, 0.017]
    ci = stats.bootstrap_ci(values)
    assert ci == stats.bootstrap_ci(values)  # fixed RNG seed: the same numbers, the same interval
    assert ci["lo"] < np.mean(values) < ci["hi"] and min(values) <= ci["lo"] and ci["hi"] <= max(values)
    rng = np.random.default_rng(stats.BOOTSTRAP["rng_seed"])
    means = np.asarray(values)[rng.integers(0, 5, size=(stats.BOOTSTRAP["resamples"], 5))].mean(1)
    assert (ci["lo"], ci["hi"]) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert stats.BOOTSTRAP["resamples"] >= 10_000 and stats.BOOTSTRAP["level"] == 0.95


@pytest.mark.parametrize("values, ablation, baseline", [
    ([0.030, 0.041, 0.025, 0.036, 0.029], "helps", "BDGF better"),  # clearly positive
    ([-0.010, 0.012, 0.003, -0.006, 0.001], "no effect", "no difference"),  # centred on zero
    ([-0.022, -0.030, -0.018, -0.027, -0.035], "hurts", "BDGF worse"),  # clearly negative
])
def test_verdicts(values, ablation, baseline):
    ci = stats.bootstrap_ci(values)
    assert stats.verdict(ci, "ablation") == ablation
    assert stats.verdict(ci, "baseline") == baseline


def test_too_few_seeds_decide_nothing():
    ci = stats.bootstrap_ci([0.05])
    assert ci["lo"] == ci["hi"] == 0.05 and stats.verdict(ci, "ablation") == stats.UNDECIDED
    two = stats.bootstrap_ci([0.05, 0.06])  # two seeds: the interval is [min, max], too easy to clear 0
    assert (two["lo"], two["hi"]) == (0.05, 0.06) and stats.verdict(two, "baseline") == stats.UNDECIDED
    assert stats.bootstrap_ci([])["n"] == 0 and stats.t_interval([0.1])["lo"] is None


def test_t_interval_cross_check():
    t = stats.t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2 dof) = 4.3027
    assert (t["lo"], t["hi"]) == pytest.approx((2 - 4.302653 / 3 ** 0.5, 2 + 4.302653 / 3 ** 0.5))


def _run(oa: float, hsi: float, masking: dict | None = None) -> dict:
    balance = {"hsi": {"fine": hsi, "mid": hsi}, "sar": {"fine": 0.2, "mid": 0.2},
               "dsm": {"fine": 0.1, "mid": 0.1}}
    return {"oa": oa, "aa": oa - 0.01, "kappa": oa - 0.05, "modality_balance": balance, "masking": masking}


def test_paired_analysis_on_constructed_runs():
    seeds = [str(s) for s in range(5)]
    state = {"mode": "adaptive", "target_share": 1 / 3, "final_factor": 1.8, "mean_structure_ratio": 0.4,
             "mean_sample_ratio": 0.1, "floor_structure_ratio": 0.075,
             "history": [{"step": 0, "spectral_share": 0.7, "structure_ratio": 0.0, "sample_ratio": 0.0}]}
    results = {
        "bdgf": {s: _run(0.80 + 0.01 * i, 0.5, state) for i, s in enumerate(seeds)},
        # removing masking costs 3 points on every seed and the DDPM is spectral-dominated
        "mask_off": {s: _run(0.77 + 0.01 * i, 1.5) for i, s in enumerate(seeds)},
        # guidance: + / - around zero
        "no_guidance": {s: _run(0.80 + 0.01 * i + d, 0.5) for i, (s, d) in
                        enumerate(zip(seeds, (0.01, -0.01, 0.005, -0.004, 0.0)))},
        "rf": {s: {"oa": 0.85 + 0.01 * i + 0.002 * (i % 2), "aa": 0.8, "kappa": 0.8}
               for i, s in enumerate(seeds)},
    }
    kinds = {"bdgf": "bdgf", "mask_off": "bdgf", "no_guidance": "bdgf", "rf": "baseline"}
    out = stats.paired_analysis(results, kinds, ["hsi", "sar", "dsm"])
    oa = out["metrics"]["oa"]
    assert oa["mask_off"]["diff"]["mean"] == pytest.approx(0.03)
    assert oa["mask_off"]["diff"]["lo"] == pytest.approx(0.03) and oa["mask_off"]["verdict"] == "helps"
    assert oa["mask_off"]["t_verdict"] == "helps" and oa["rf"]["t_verdict"] == "BDGF worse"
    assert oa["no_guidance"]["verdict"] == "no effect" and oa["rf"]["verdict"] == "BDGF worse"
    assert "diff" not in oa["bdgf"] and oa["bdgf"]["stat"]["n"] == 5
    assert out["separated_oa"] == ["mask_off", "rf"]
    share = out["spectral_share"]
    assert share["rows"]["mask_off"]["stat"]["mean"] == pytest.approx(1.5 / 1.8)
    paired = share["paired"]["bdgf - mask_off"]
    assert paired["diff"]["mean"] == pytest.approx(0.5 / 0.8 - 1.5 / 1.8) and paired["reading"] == "lower"
    ctrl = out["masking"]
    assert ctrl["mask_off"] is None  # runs without the key: shown as "–"
    assert ctrl["bdgf"]["structure_above_floor"]["mean"] == pytest.approx(0.325)
    assert ctrl["bdgf"]["last_probe_share"]["mean"] == pytest.approx(0.7)
    job = out["job"]
    assert job["status"] == "yes" and job["even_share"] == pytest.approx(1 / 3)
    assert job_lines(out)[2].startswith("**Yes.**")


def test_a_balanced_masking_off_ddpm_means_the_testbed_is_not_doing_its_job():
    job = stats.testbed_job({str(s): v for s, v in enumerate([0.13, 0.15, 0.14, 0.16, 0.12])}, 3)
    assert job["status"] == "no"
    text = "\n".join(job_lines({"job": job, "metrics": {}, "reference": "bdgf"}))
    assert "the testbed is not doing its job" in text
    assert stats.testbed_job({"0": 0.9}, 3)["status"] == "unclear"  # one seed
    assert stats.testbed_job({str(s): v for s, v in enumerate([0.45, 0.6, 0.52])}, 3)["status"] == "unclear"
    assert stats.testbed_job({}, 3)["status"] == "unknown"
