"""`python -m bench.scarcity_branches`: each classifier branch scored alone in finished label-scarcity runs.

Reads what the runs of `python -m bench.scarcity` recorded (WORK/runs/n<labels>/<row>/seed_<s>/metrics.json:
`oa` and `branch_oa`, which training writes from commit 0d7fbfd on; an older run gets it by re-running its
command with `--resume`, which reloads the finished DDPM and classifier, evaluates and exports again
without training: its config must then pin `[network.classifier] version` as its checkpoints were made,
since an unpinned config trains the current version) and writes docs/bench/NAME.{json,md}: the networks'
own (fused) OA, row `bdgf` (the version its model cards record) minus version 1 (`bdgf_v1`) paired by
seed; and per row and branch the OA over the seeds, and the same difference per branch. The two rows' runs
may come from different invocations (a run is its metrics.json, whatever commit trained it). Trains
nothing; a run missing or without `branch_oa` is left out and named in the notes.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.report import DOCS, md_table, write_results
from bench.scarcity import LABELS, ROW_BY_KEY, SEEDS, _ci, _paired, branch_summary, render_branches
from bench.stamp import REPO, command_line, make_stamp
from bench.testbed.runs import package_network_version
from bench.testbed.stats import bootstrap_ci, t_interval

NAME = "scarcity_branches"
TITLE = "Label scarcity: each classifier branch alone, the new network against version 1"
ROWS = ("bdgf", "bdgf_v1")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.scarcity_branches", description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=str(REPO / "build" / "bench-scarcity"),
                    help="the work folder of a bench.scarcity run (its runs/ folder)")
    ap.add_argument("--labels", default=",".join(map(str, LABELS)))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--rows", default=",".join(ROWS), help="BDGF rows of bench.scarcity")
    ap.add_argument("--docs", default=str(DOCS))
    ap.add_argument("--name", default=NAME)
    return ap.parse_args(argv)


def collect(work: Path, labels, rows, seeds) -> tuple[dict, list[str]]:
    """results[n][row][seed] = {oa, branch_oa, network_version} of the runs that recorded branch_oa."""
    results, missing = {}, []
    for n in labels:
        results[str(n)] = {}
        for key in rows:
            per = results[str(n)][key] = {}
            for s in seeds:
                run = work / "runs" / f"n{n}" / key / f"seed_{s}"
                try:
                    m = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    missing.append(f"n{n}/{key}/seed_{s} (no metrics.json)")
                    continue
                if not m.get("branch_oa"):
                    missing.append(f"n{n}/{key}/seed_{s} (no branch_oa: re-run its command with --resume, "
                                   "see the module's note)")
                    continue
                per[str(s)] = {"oa": m["oa"], "branch_oa": m["branch_oa"],
                               "network_version": package_network_version(run / "model.bdgf")}
    return results, missing


def fused_paired(per: dict) -> dict | None:
    """The networks' own (fused) OA: row bdgf − row bdgf_v1, paired by seed, over the seeds both recorded
    (the comparison bench.scarcity's page makes when it trains both rows in one invocation)."""
    new, old = per.get("bdgf", {}), per.get("bdgf_v1", {})
    common = sorted(set(new) & set(old), key=int)
    if not common:
        return None
    diffs = [100 * (new[s]["oa"] - old[s]["oa"]) for s in common]
    return {"seeds": [int(s) for s in common], "diffs": diffs, **bootstrap_ci(diffs), "t": t_interval(diffs),
            "new": bootstrap_ci([100 * new[s]["oa"] for s in common]),
            "old": bootstrap_ci([100 * old[s]["oa"] for s in common])}


def render_fused(data: dict) -> list[str]:
    rows = [(n, data["summary"][str(n)].get("fused")) for n in data["labels"]]
    rows = [(n, f) for n, f in rows if f]
    if not rows:
        return []
    table = [[str(n), _ci(f["new"]), _ci(f["old"]), _paired(f), ", ".join(map(str, f["seeds"]))]
             for n, f in rows]
    return ["## The networks (fused OA)", "",
            "OA % of each network's fused map over the seeds both rows finished (mean [95 % bootstrap]), and "
            "bdgf − bdgf_v1 in OA points paired by seed (mean [bootstrap 95 %] (t-interval); seeds):", "",
            *md_table(["labels / class", "bdgf", "bdgf_v1", "bdgf − bdgf_v1", "seeds"], table, "lrrrl"), ""]


def render(data: dict) -> list[str]:
    versions = sorted({r["network_version"] for per in data["results"].values() for rows in per.values()
                       for r in rows.values() if r.get("network_version") is not None})
    lines = [f"The runs of `python -m bench.scarcity` in `{data['work']}` (rows {', '.join(data['rows'])}: "
             + "; ".join(f"{k} = {ROW_BY_KEY[k].label}" for k in data["rows"])
             + "), network versions in their model cards: "
             + f"{', '.join(map(str, versions)) or 'not recorded'}. "
             "A branch's OA is its softmax's argmax on the run's own test pixels, without the fusion "
             "(training's `branch_oa`, the evaluation's own pass).", ""]
    lines += render_fused(data)
    lines += render_branches(data)
    lines += ["## Per seed: fused OA and each branch alone (OA %)", ""]
    runs = [(str(n), key, s, r) for n in data["labels"] for key in data["rows"]
            for s, r in sorted(data["results"][str(n)][key].items(), key=lambda kv: int(kv[0]))]
    names = list(dict.fromkeys(b for *_, r in runs for b in r["branch_oa"]))
    table = [[n, key, s, f"{100 * r['oa']:.2f}",
              *(f"{100 * r['branch_oa'][b]:.2f}" if b in r["branch_oa"] else "–" for b in names)]
             for n, key, s, r in runs]
    lines += md_table(["labels", "row", "seed", "fused", *names], table, "lllr" + "r" * len(names)) + [""]
    if data["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in data["notes"]] + [""]
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    labels = tuple(int(v) for v in args.labels.split(","))
    seeds = tuple(int(v) for v in args.seeds.split(","))
    rows = tuple(r.strip() for r in args.rows.split(","))
    unknown = [r for r in rows if r not in ROW_BY_KEY or ROW_BY_KEY[r].kind != "bdgf"]
    if unknown:
        raise SystemExit(f"error: not a BDGF row of bench.scarcity: {unknown}")
    work = Path(args.work)
    if not (work / "runs").is_dir():
        raise SystemExit(f"error: {work / 'runs'} not found: give --work, the folder of a bench.scarcity run")
    results, missing = collect(work, labels, rows, seeds)
    data = {"stamp": make_stamp(command_line("bench.scarcity_branches", argv)),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "work": work.name, "labels": list(labels),
            "seeds": list(seeds), "rows": list(rows), "results": results,
            "summary": {str(n): {"branches": branch_summary(results[str(n)], rows),
                                 "fused": fused_paired(results[str(n)])} for n in labels},
            "notes": [f"left out: {m}" for m in missing]}
    _, md_path = write_results(args.docs, args.name, TITLE, data, render(data))
    print(f"bench.scarcity_branches: {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
