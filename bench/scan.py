"""Selective-scan micro-benchmark: python -m bench.scan [--batch 256 --length 121 --d-inner D --d-state N].

Times engine.nn.scan.selective_scan_torch (ours) against selective_scan_naive (the reference, the
baseline measured in the same run) on one Mamba-block-shaped input, median of --repeats calls each,
and checks that they agree. Writes DOCS/scan.json and DOCS/scan.md (default docs/bench/).
"""
from __future__ import annotations

import argparse
import time

from bench.report import DOCS, md_table, write_results
from bench.stamp import command_line, make_stamp


def _times_ms(fn, repeats, clock=time.perf_counter) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return times


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def parse_args(argv=None) -> argparse.Namespace:
    from engine.nn.config import BDGFConfig

    cc = BDGFConfig.default().classifier
    p = argparse.ArgumentParser(prog="python -m bench.scan", description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--length", type=int, default=121)
    p.add_argument("--d-inner", type=int, default=cc.expand * cc.embed_dim)
    p.add_argument("--d-state", type=int, default=cc.d_state)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cpu-time", action="store_true", help="process CPU time (robust on a shared box)")
    p.add_argument("--docs", default=str(DOCS), help="where scan.json / scan.md go (default docs/bench)")
    return p.parse_args(argv)


def measure(a: argparse.Namespace) -> dict:
    import torch

    from engine.nn.scan import selective_scan_naive, selective_scan_torch

    if a.threads:
        torch.set_num_threads(a.threads)
    clock = time.process_time if a.cpu_time else time.perf_counter
    g = torch.Generator().manual_seed(0)
    b, d, n, L = a.batch, a.d_inner, a.d_state, a.length
    # magnitudes as in a Mamba block: dt = softplus(delta + bias) in ~[0.001, 0.1], S4D-real A
    u = torch.randn(b, d, L, generator=g)
    delta = torch.randn(b, d, L, generator=g) * 0.5
    A = -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1) * (0.5 + torch.rand(d, 1, generator=g))
    Bm, Cm = torch.randn(b, n, L, generator=g), torch.randn(b, n, L, generator=g)
    Dv, z = torch.randn(d, generator=g), torch.randn(b, d, L, generator=g)
    bias = torch.log(torch.expm1(torch.exp(torch.empty(d).uniform_(-6.9, -2.3, generator=g))))
    args = (u, delta, A, Bm, Cm, Dv, z, bias, True)
    with torch.no_grad():  # fast one first: the reference's ~100 MB temporaries upset the allocator
        fast = _times_ms(lambda: selective_scan_torch(*args), a.repeats, clock)
        naive = _times_ms(lambda: selective_scan_naive(*args), a.repeats, clock)
        ref = selective_scan_naive(*args)
        diff = (selective_scan_torch(*args) - ref).abs().max().item()
        scale = ref.abs().max().item()
    return {"shape": {"batch": b, "length": L, "d_inner": d, "d_state": n},
            "threads": torch.get_num_threads(), "clock": "cpu" if a.cpu_time else "wall",
            "repeats": a.repeats, "baseline": "selective_scan_naive",
            "naive_ms": _median(naive), "ours_ms": _median(fast), "naive_ms_all": naive, "ours_ms_all": fast,
            "speedup_vs_naive": _median(naive) / _median(fast), "max_abs_diff": diff, "max_abs_y": scale}


def markdown(r: dict) -> list[str]:
    s = r["shape"]
    rows = [["selective_scan_naive (baseline)", f"{r['naive_ms']:.2f}", f"{min(r['naive_ms_all']):.2f}",
             "1.00×"],
            ["selective_scan_torch (ours)", f"{r['ours_ms']:.2f}", f"{min(r['ours_ms_all']):.2f}",
             f"{r['speedup_vs_naive']:.2f}×"]]
    return [f"Shape B {s['batch']}, L {s['length']}, d_inner {s['d_inner']}, d_state {s['d_state']} "
            f"(with D, z, delta bias and softplus); {r['threads']} torch thread(s); {r['clock']} clock; "
            f"median of {r['repeats']} calls after one warm-up call. Speed-up = the naive reference's time / "
            "ours, both measured in this run.", "",
            *md_table(["implementation", "ms (median)", "ms (min)", "speed-up vs naive"], rows, "lrrr"), "",
            f"Max |ours − naive| = {r['max_abs_diff']:.2e} (max |y| = {r['max_abs_y']:.2f})."]


def main(argv=None) -> int:
    a = parse_args(argv)
    stamp = make_stamp(command_line("bench.scan", argv))
    r = measure(a)
    s = r["shape"]
    print(f"shape B={s['batch']} L={s['length']} d_inner={s['d_inner']} d_state={s['d_state']} "
          f"threads={r['threads']} clock={r['clock']}")
    print(f"selective_scan_naive : {r['naive_ms']:8.2f} ms")
    print(f"selective_scan_torch : {r['ours_ms']:8.2f} ms")
    print(f"speed-up             : {r['speedup_vs_naive']:8.1f}x")
    print(f"max |diff|           : {r['max_abs_diff']:.2e}  (max |y| = {r['max_abs_y']:.2f})")
    paths = write_results(a.docs, "scan", "Selective scan: ours vs the naive reference",
                          {"stamp": stamp, **r}, markdown(r))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
