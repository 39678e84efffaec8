"""Benchmark: python -m engine.bench_scan [--batch 256 --length 121 --d-inner D --d-state N]."""
from __future__ import annotations

import argparse
import time


def _median_ms(fn, repeats, clock=time.perf_counter):
    fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> None:
    import torch

    from .nn.config import BDGFConfig
    from .nn.scan import selective_scan_naive, selective_scan_torch

    cc = BDGFConfig.default().classifier
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--length", type=int, default=121)
    p.add_argument("--d-inner", type=int, default=cc.expand * cc.embed_dim)
    p.add_argument("--d-state", type=int, default=cc.d_state)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cpu-time", action="store_true", help="process CPU time (robust on a shared box)")
    a = p.parse_args(argv)
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
        t_fast = _median_ms(lambda: selective_scan_torch(*args), a.repeats, clock)
        t_naive = _median_ms(lambda: selective_scan_naive(*args), a.repeats, clock)
        ref = selective_scan_naive(*args)
        diff = (selective_scan_torch(*args) - ref).abs().max().item()
        scale = ref.abs().max().item()
    print(f"shape B={b} L={L} d_inner={d} d_state={n} threads={torch.get_num_threads()} "
          f"clock={'cpu' if a.cpu_time else 'wall'}")
    print(f"selective_scan_naive : {t_naive:8.2f} ms")
    print(f"selective_scan_torch : {t_fast:8.2f} ms")
    print(f"speed-up             : {t_naive / t_fast:8.1f}x")
    print(f"max |diff|           : {diff:.2e}  (max |y| = {scale:.2f})")


if __name__ == "__main__":
    main()
