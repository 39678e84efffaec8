"""Ablation + baseline benchmark on the synthetic testbeds: `python -m bench.testbed [--testbed hard]`.

`make bench` runs it with the defaults (the easy testbed: docs/bench/testbed.md, docs/bench/testbed.json,
docs/bench/img/*.png) and with `--testbed hard` (docs/bench/testbed_hard.md / .json,
docs/bench/img/testbed_hard_*.png). The hard testbed (rows.HARD) is built so that modality balance
matters: 160 HSI bands, SAR VV + VH and the nDSM as the only signal of the aux-only class pairs, 10
labelled pixels per class in spatially disjoint 16 px blocks (split seed = run seed, so every row of a
seed sees the same split), validation in separate blocks, 5 seeds; its report compares every row with
full BDGF by the paired difference per seed and a seed-bootstrap interval (stats.paired_analysis), and
says first whether the testbed is doing its job (is the DDPM without masking spectral-dominated?).
What it does:

1. writes one seeded testbed scene (training.synthetic: HSI + SAR + nDSM, aux-only-separable class
   pairs trees/grass and roof/paved ground) and a second scene (another layout seed) whose DDPM
   serves as the "cross-model" diffusion model;
2. for every seed and row, runs `python -m training.run` in a subprocess (rows.py); rows that
   keep the full model's DDPM (guidance off, single branches, mutual learning off) start from a copy
   of that seed's finished DDPM checkpoint (`--resume` on a checkpoint folder that holds only
   `ddpm_final`) and share its feature cache, so only the masking rows pre-train their own DDPM;
3. fits the classical baselines (training.baselines: Random Forest, RBF-SVM) per seed;
4. (easy testbed) classifies the scene with the full model's package through bench.inference (ONNX Runtime and
   PyTorch eager, each run in a fresh process, 3 runs per backend, median: seconds, pixels/s, peak RSS);
5. aggregates mean ± std over seeds and writes the report (stamped: bench.stamp).

Every run lives in WORK/runs/ROW/seed_S with a fingerprint of its settings; a rerun with the same
settings reuses finished runs, so an interrupted benchmark continues where it stopped and
`--report-only` rewrites the report from what exists. `--max-minutes` stops starting new runs after
that much time (what did not run is listed in the report).

Modules: rows (rows, settings), runs (scenes, per-seed configs, training.run subprocesses), stats
(aggregation, claims, paired bootstrap), figures, report (the easy Markdown body), report_hard (the hard
one), main (the command line).
"""
