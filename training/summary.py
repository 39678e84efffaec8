"""What a finished training run reports: mean ± std over seeds (summary.json + summary.md) and the launcher's
summary (packages, figures, report) that the progress stream's last event carries."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from training import checkpoint as ckpt


def write_summary(out: Path, results: dict[int, dict]) -> dict:
    """mean ± sample std over seeds of OA / AA / Kappa and per-class accuracy -> summary.json + .md."""
    keys = ["oa", "aa", "kappa"]
    names = next(iter(results.values()))["class_names"]
    table = {k: [results[s][k] for s in results] for k in keys}
    for i, name in enumerate(names):
        table[name] = [results[s]["classes"][i]["producers_accuracy"] or 0.0 for s in results]
    ddof = 1 if len(results) > 1 else 0  # sample standard deviation over seeds
    summary = {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=ddof)), "values": v}
               for k, v in table.items()}
    summary["seeds"] = list(results)
    lines = ["| metric | mean ± std | " + " | ".join(f"seed {s}" for s in results) + " |",
             "|---|---:|" + "---:|" * len(results)]
    for k in table:  # percentages; Kappa as a fraction
        fmt = (lambda v: f"{v:.4f}") if k == "kappa" else (lambda v: f"{100 * v:.2f}")
        lines.append(f"| {k} | {fmt(summary[k]['mean'])} ± {fmt(summary[k]['std'])} | "
                     + " | ".join(fmt(v) for v in table[k]) + " |")
    ckpt.atomic_write_json(out / "summary.json", summary)
    ckpt.atomic_write(out / "summary.md", ("# Seeds summary\n\n" + "\n".join(lines) + "\n").encode())
    return summary


def run_summary(out: Path, results: dict[int, dict]) -> dict:
    """What the launcher needs from a finished run: the package(s), the figures, the report."""
    def figures(seed: int, r: dict) -> dict:
        return {"seed": seed, "package": str(out / r["package"]) if len(results) == 1 else
                str(out / f"seed_{seed}" / r["package"]), "oa": r["oa"], "aa": r["aa"], "kappa": r["kappa"],
                "coverage": r["coverage"], "oa_all_reference": r["oa_all_reference"],
                "missing_modality": r.get("missing_modality") or {}}
    runs = [figures(seed, r) for seed, r in results.items()]
    report = out / "report.md" if len(results) == 1 else out / "summary.md"
    return {"runs": runs, "report": str(report)}
