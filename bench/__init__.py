"""Benchmarks of BDGF, kept out of the product: nothing in engine/, training/, ui/ or scripts/ imports
this package (tests/test_architecture.py enforces it), and the plugin zip leaves it out.

    python -m bench.testbed     ablations + baselines on the synthetic testbed (`make bench`)
    python -m bench.inference   dense vs patchwise classifier (ONNX Runtime, PyTorch eager) on an
                                Augsburg-size scene, FLOPs vs GEMM, large VRT mosaics (px/s, RSS)
    python -m bench.scan        the scan inference runs against a textbook loop

Every benchmark writes its raw results as JSON and its Markdown table itself, under docs/bench/
(NAME.json + NAME.md, figures in docs/bench/img/), stamped (bench.stamp) with the git commit it ran on,
whether the tree was clean, the date and the machine. Timings are reported as ratios against a baseline
measured in the same run.

Modules: stamp (the stamp), report (Markdown helpers and the one JSON + Markdown writer), inference,
scan, testbed/ (rows, runs, stats, figures, report, main).
"""
