"""bench.scarcity_branches: each branch's OA as finished scarcity runs recorded it (metrics.json's
branch_oa), the new network − the old per branch paired by seed, and the runs it had to leave out."""
from __future__ import annotations

import json

import pytest

from bench import scarcity_branches


def _run(work, n, row, seed, oa, branch_oa=None):
    run = work / "runs" / f"n{n}" / row / f"seed_{seed}"
    run.mkdir(parents=True)
    metrics = {"oa": oa, **({"branch_oa": branch_oa} if branch_oa else {})}
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")


def test_branch_scores_are_aggregated_paired_and_gaps_named(tmp_path):
    work, docs = tmp_path / "work", tmp_path / "docs"
    new = {"0": (0.90, 0.88, 0.85), "1": (0.92, 0.86, 0.87), "2": (0.91, 0.84, 0.86)}
    old = {"0": (0.91, 0.93, 0.86), "1": (0.92, 0.94, 0.88), "2": (0.90, 0.92, 0.85)}
    fused = {("bdgf", "0"): 0.91, ("bdgf", "1"): 0.90, ("bdgf", "2"): 0.92}
    for row, values in (("bdgf", new), ("bdgf_v1", old)):
        for seed, (cnn, mamba, transformer) in values.items():
            _run(work, 5, row, seed, fused.get((row, seed), 0.9),
                 {"cnn": cnn, "mamba": mamba, "transformer": transformer})
    _run(work, 5, "bdgf", 3, 0.9)  # finished before training recorded branch_oa
    argv = ["--work", str(work), "--docs", str(docs), "--labels", "5", "--seeds", "0,1,2,3"]
    assert scarcity_branches.main(argv) == 0
    data = json.loads((docs / "scarcity_branches.json").read_text(encoding="utf-8"))
    branches = data["summary"]["5"]["branches"]
    assert branches["alone"]["bdgf"]["mamba"]["mean"] == pytest.approx(100 * (0.88 + 0.86 + 0.84) / 3)
    paired = branches["new_minus_old"]["mamba"]
    assert paired["seeds"] == [0, 1, 2]
    assert paired["diffs"] == pytest.approx([-5.0, -8.0, -8.0])
    assert branches["new_minus_old"]["cnn"]["diffs"] == pytest.approx([-1.0, 0.0, 1.0])
    # the networks' own OA, paired over the seeds both rows finished (seed 3 of bdgf has no partner)
    fused = data["summary"]["5"]["fused"]
    assert fused["seeds"] == [0, 1, 2] and fused["diffs"] == pytest.approx([1.0, 0.0, 2.0])
    notes = " ".join(data["notes"])
    assert "n5/bdgf/seed_3 (no branch_oa" in notes and "n5/bdgf_v1/seed_3 (no metrics.json)" in notes
    text = (docs / "scarcity_branches.md").read_text(encoding="utf-8")
    assert "## Each branch alone" in text and "| 5 | bdgf | 0 | 91.00 | 90.00 | 88.00 | 85.00 |" in text
    assert "## The networks (fused OA)" in text and "| 5 | 91.00 [" in text and "| +1.00 [" in text


def test_a_work_folder_without_runs_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="not found: give --work"):
        scarcity_branches.main(["--work", str(tmp_path), "--docs", str(tmp_path / "docs")])
