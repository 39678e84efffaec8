"""Selective-scan micro-benchmark: python -m bench.scan [--batch B --length L --d-inner D --d-state N].

Times the scan inference really runs: the Mamba branch reads only the last output of each scan
(MambaBlock.forward_last), so eager PyTorch runs engine.nn.scan.scan_time_major(..., last_only=True)
(the chunked in-place recurrence) and the exported graphs run its loop-free form
(`_last_output_parallel`, timed in ONNX Runtime). The baseline, measured in the same run, is a textbook
loop written here: h = exp(delta_t A) h + delta_t u_t B_t step by step, y = C . h + D u, times silu(z).
Default shapes: the `cpu` preset network (training/presets.py; the README's CPU network) at Augsburg
band counts: L = patch^2 = 81, d_inner = expand * embed_dim, d_state; batch = the engine's CPU pixel
batch (64, engine.model.tiling.default_batch). Median of --repeats calls each after one warm-up call; the
three must agree.
Writes DOCS/scan.json and DOCS/scan.md (default docs/bench/).
"""
from __future__ import annotations

import argparse
import io
import time
import warnings

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


def textbook_last(u, delta, A, B, C, D, z):
    """The recurrence as written in the Mamba paper, one step at a time, on (b, d, n) states; the last
    step's output. u, delta, z: (L, b, d) time-major, delta after softplus; A: (d, n); B, C: (L, b, n)."""
    import torch

    h = u.new_zeros(u.shape[1], u.shape[2], A.shape[1])
    for t in range(u.shape[0]):
        h = torch.exp(delta[t, :, :, None] * A) * h + (delta[t] * u[t])[:, :, None] * B[t, :, None, :]
    y = (h * C[-1, :, None, :]).sum(-1) + D * u[-1]
    return y * torch.nn.functional.silu(z[-1])


def parse_args(argv=None) -> argparse.Namespace:
    from training.presets import preset

    net, _ = preset("cpu", [180, 4, 1], 7)
    cc = net.classifier
    p = argparse.ArgumentParser(prog="python -m bench.scan", description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)  # engine.model.tiling.default_batch's CPU cap
    p.add_argument("--length", type=int, default=net.patch_size ** 2)
    p.add_argument("--d-inner", type=int, default=cc.expand * cc.embed_dim)
    p.add_argument("--d-state", type=int, default=cc.d_state)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cpu-time", action="store_true", help="process CPU time (robust on a shared box)")
    p.add_argument("--docs", default=str(DOCS), help="where scan.json / scan.md go (default docs/bench)")
    return p.parse_args(argv)


def _last_scan_module():
    """scan_time_major(..., last_only=True) as a module, for the export."""
    import torch

    from engine.nn.scan import scan_time_major

    class LastScan(torch.nn.Module):
        def forward(self, u, delta, A, B, C, D, z):
            return scan_time_major(u, delta, A, B, C, D, z, last_only=True)

    return LastScan()


def _onnx_session(args, threads):
    import onnx
    import onnxruntime as ort
    import torch

    names = ["u", "delta", "A", "B", "C", "D", "z"]
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_last_scan_module(), args, buf, input_names=names, output_names=["y"],
                          opset_version=17, dynamo=False,
                          dynamic_axes={k: {1: "b"} for k in ("u", "delta", "B", "C", "z")})
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
    nodes = len(onnx.load_from_string(buf.getvalue()).graph.node)
    return session, {k: v.numpy() for k, v in zip(names, args)}, nodes


def measure(a: argparse.Namespace) -> dict:
    import torch

    from engine.nn.scan import scan_time_major

    if a.threads:
        torch.set_num_threads(a.threads)
    clock = time.process_time if a.cpu_time else time.perf_counter
    g = torch.Generator().manual_seed(0)
    b, d, n, L = a.batch, a.d_inner, a.d_state, a.length
    # magnitudes as in a Mamba block: delta = softplus(x + bias) in ~[0.001, 0.1], S4D-real A
    u = torch.randn(L, b, d, generator=g)
    bias = torch.log(torch.expm1(torch.exp(torch.empty(d).uniform_(-6.9, -2.3, generator=g))))
    delta = torch.nn.functional.softplus(torch.randn(L, b, d, generator=g) * 0.5 + bias)
    A = -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1) * (0.5 + torch.rand(d, 1, generator=g))
    Bm, Cm = torch.randn(L, b, n, generator=g), torch.randn(L, b, n, generator=g)
    Dv, z = torch.randn(d, generator=g), torch.randn(L, b, d, generator=g)
    args = (u, delta, A, Bm, Cm, Dv, z)
    session, feeds, nodes = _onnx_session(args, a.threads or torch.get_num_threads())
    with torch.inference_mode():  # as the PyTorch backend runs it
        eager = _times_ms(lambda: scan_time_major(*args, last_only=True), a.repeats, clock)
        onnx = _times_ms(lambda: session.run(None, feeds), a.repeats, clock)
        naive = _times_ms(lambda: textbook_last(*args), a.repeats, clock)
        ref = textbook_last(*args)
        diff_eager = (scan_time_major(*args, last_only=True) - ref).abs().max().item()
        diff_onnx = float((torch.from_numpy(session.run(None, feeds)[0]) - ref).abs().max())
        scale = ref.abs().max().item()
    return {"shape": {"batch": b, "length": L, "d_inner": d, "d_state": n},
            "threads": a.threads or torch.get_num_threads(), "clock": "cpu" if a.cpu_time else "wall",
            "repeats": a.repeats, "baseline": "textbook loop", "onnx_nodes": nodes,
            "naive_ms": _median(naive), "eager_ms": _median(eager), "onnx_ms": _median(onnx),
            "naive_ms_all": naive, "eager_ms_all": eager, "onnx_ms_all": onnx,
            "speedup_eager_vs_naive": _median(naive) / _median(eager),
            "speedup_onnx_vs_naive": _median(naive) / _median(onnx),
            "max_abs_diff_eager": diff_eager, "max_abs_diff_onnx": diff_onnx, "max_abs_y": scale}


def markdown(r: dict) -> list[str]:
    s = r["shape"]
    rows = [["textbook loop (baseline, bench/scan.py)", f"{r['naive_ms']:.2f}",
             f"{min(r['naive_ms_all']):.2f}", "1.00×", "–"],
            ["scan_time_major(last_only=True), PyTorch eager (inference_mode)", f"{r['eager_ms']:.2f}",
             f"{min(r['eager_ms_all']):.2f}", f"{r['speedup_eager_vs_naive']:.2f}×",
             f"{r['max_abs_diff_eager']:.1e}"],
            [f"its export (loop-free, {r['onnx_nodes']} ONNX nodes), ONNX Runtime", f"{r['onnx_ms']:.2f}",
             f"{min(r['onnx_ms_all']):.2f}", f"{r['speedup_onnx_vs_naive']:.2f}×",
             f"{r['max_abs_diff_onnx']:.1e}"]]
    per_px = 1e3 / s["batch"]
    return [f"The scan the Mamba branch runs at inference (the last output of each sequence only), at the "
            f"`cpu` preset's shapes: batch {s['batch']} pixels, L {s['length']} tokens, d_inner "
            f"{s['d_inner']}, d_state {s['d_state']} (with D and the silu(z) gate); {r['threads']} "
            f"thread(s); {r['clock']} clock; median of {r['repeats']} calls after one warm-up call. "
            "Speed-up = the textbook loop's time / the implementation's, both measured in this run.", "",
            *md_table(["implementation", "ms (median)", "ms (min)", "speed-up", "max |diff| vs loop"], rows,
                      "lrrrr"), "",
            f"Max |y| = {r['max_abs_y']:.2f}. Per pixel and scan direction: {r['eager_ms'] * per_px:.1f} µs "
            f"eager, {r['onnx_ms'] * per_px:.1f} µs ONNX Runtime "
            f"({s['length'] * s['d_inner'] * s['d_state']} exponentials each)."]


def main(argv=None) -> int:
    a = parse_args(argv)
    stamp = make_stamp(command_line("bench.scan", argv))
    r = measure(a)
    s = r["shape"]
    print(f"shape B={s['batch']} L={s['length']} d_inner={s['d_inner']} d_state={s['d_state']} "
          f"threads={r['threads']} clock={r['clock']}")
    print(f"textbook loop         : {r['naive_ms']:8.2f} ms")
    print(f"eager (last only)     : {r['eager_ms']:8.2f} ms  {r['speedup_eager_vs_naive']:5.1f}x  "
          f"max |diff| {r['max_abs_diff_eager']:.1e}")
    print(f"ONNX Runtime          : {r['onnx_ms']:8.2f} ms  {r['speedup_onnx_vs_naive']:5.1f}x  "
          f"max |diff| {r['max_abs_diff_onnx']:.1e}  ({r['onnx_nodes']} nodes)")
    paths = write_results(a.docs, "scan", "Selective scan as inference runs it vs a textbook loop",
                          {"stamp": stamp, **r}, markdown(r))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
