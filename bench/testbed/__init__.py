"""Ablation + baseline benchmark on the synthetic testbed: `python -m bench.testbed [--gpu] [--quick]`.

`make bench` runs it with the defaults and writes docs/bench/testbed.md, docs/bench/testbed.json and
docs/bench/img/*.png. What it does:

1. writes one seeded testbed scene (training.synthetic: HSI + SAR + nDSM, aux-only-separable class
   pairs trees/grass and roof/paved ground) and a second scene (another layout seed) whose DDPM
   serves as the "cross-model" diffusion model;
2. for every seed and row, runs `python -m training.run` in a subprocess (rows.py); rows that
   keep the full model's DDPM (guidance off, single branches, mutual learning off) start from a copy
   of that seed's finished DDPM checkpoint (`--resume` on a checkpoint folder that holds only
   `ddpm_final`) and share its feature cache, so only the masking rows pre-train their own DDPM;
3. fits the classical baselines (training.baselines: Random Forest, RBF-SVM) per seed;
4. classifies the scene with the full model's package through bench.inference (ONNX Runtime and
   PyTorch eager, each run in a fresh process, 3 runs per backend, median: seconds, pixels/s, peak RSS);
5. aggregates mean ± std over seeds and writes the report (stamped: bench.stamp).

Every run lives in WORK/runs/ROW/seed_S with a fingerprint of its settings; a rerun with the same
settings reuses finished runs, so an interrupted benchmark continues where it stopped and
`--report-only` rewrites the report from what exists. `--max-minutes` stops starting new runs after
that much time (what did not run is listed in the report).

Modules: rows (rows, settings), runs (scenes, training.run subprocesses), stats (aggregation, claims),
figures, report (the Markdown body), main (the command line).
"""
