"""Build mamba_ssm's selective-scan CUDA extension for inference checks on a GPU machine, in minutes:
python -m bench.mamba_build SDIST_DIR BUILD_DIR [--arch 9.0]

`pip install mamba-ssm` compiles 10 CUDA files for 8 GPU architectures (tens of minutes; the device
machine lends 15). Inference needs the forward kernel in fp32 only, so this builds mamba_ssm's own
sources selective_scan.cpp + selective_scan_fwd_fp32.cu for one architecture, plus a file of ours that
defines the kernels left out (fp16/bf16 forward, every backward) as functions that raise. Then it lays
out an importable package in BUILD_DIR: `selective_scan_cuda` (the extension) and `mamba_ssm` (the
sdist's Python sources; its __init__ reduced to the version, because the full one imports Mamba2/Mamba3
and their kernels, which the selective scan does not use). Put BUILD_DIR on PYTHONPATH; then
engine.nn.scan finds `mamba_ssm.ops.selective_scan_interface.selective_scan_fn` as in a full install.
Never used by the product (bench/ only).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

# Kernels the .cpp dispatches to but this build leaves out: defined here as functions that raise, so
# the extension links and a call that would need one fails loudly instead of computing garbage.
STUBS = r'''
#include <cstdint>
#include <stdexcept>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <c10/util/complex.h>
#include "selective_scan.h"

template<typename input_t, typename weight_t>
void selective_scan_fwd_cuda(SSMParamsBase &params, cudaStream_t stream) {
    throw std::runtime_error("this selective_scan_cuda build has the fp32 forward kernel only");
}
template<typename input_t, typename weight_t>
void selective_scan_bwd_cuda(SSMParamsBwd &params, cudaStream_t stream) {
    throw std::runtime_error("this selective_scan_cuda build has no backward kernels (inference only)");
}
template void selective_scan_fwd_cuda<c10::Half, float>(SSMParamsBase &, cudaStream_t);
template void selective_scan_fwd_cuda<c10::Half, c10::complex<float>>(SSMParamsBase &, cudaStream_t);
template void selective_scan_fwd_cuda<c10::BFloat16, float>(SSMParamsBase &, cudaStream_t);
template void selective_scan_fwd_cuda<c10::BFloat16, c10::complex<float>>(SSMParamsBase &, cudaStream_t);
template void selective_scan_bwd_cuda<float, float>(SSMParamsBwd &, cudaStream_t);
template void selective_scan_bwd_cuda<float, c10::complex<float>>(SSMParamsBwd &, cudaStream_t);
template void selective_scan_bwd_cuda<c10::Half, float>(SSMParamsBwd &, cudaStream_t);
template void selective_scan_bwd_cuda<c10::Half, c10::complex<float>>(SSMParamsBwd &, cudaStream_t);
template void selective_scan_bwd_cuda<c10::BFloat16, float>(SSMParamsBwd &, cudaStream_t);
template void selective_scan_bwd_cuda<c10::BFloat16, c10::complex<float>>(SSMParamsBwd &, cudaStream_t);
'''

# mamba_ssm's setup.py nvcc flags (less the architecture list and --ptxas-options=-v)
NVCC_FLAGS = ["-O3", "-std=c++17", "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
              "-U__CUDA_NO_BFLOAT16_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__",
              "-U__CUDA_NO_BFLOAT162_OPERATORS__", "-U__CUDA_NO_BFLOAT162_CONVERSIONS__",
              "--expt-relaxed-constexpr", "--expt-extended-lambda", "--use_fast_math", "-lineinfo"]


def build(sdist: Path, out: Path, arch: str = "9.0") -> float:
    """Compile into out/_build, lay out out/selective_scan_cuda*.so and out/mamba_ssm; seconds taken."""
    from torch.utils.cpp_extension import load

    csrc = sdist / "csrc" / "selective_scan"
    work = out / "_build"
    work.mkdir(parents=True, exist_ok=True)
    stubs = work / "selective_scan_stubs.cu"
    stubs.write_text(STUBS, encoding="utf-8")
    os.environ["TORCH_CUDA_ARCH_LIST"] = arch  # torch's own -gencode for this architecture only
    code = arch.replace(".", "")
    t0 = time.perf_counter()
    module = load(name="selective_scan_cuda",
                  sources=[str(csrc / "selective_scan.cpp"), str(csrc / "selective_scan_fwd_fp32.cu"),
                           str(stubs)],
                  extra_cflags=["-O3", "-std=c++17"],
                  extra_cuda_cflags=NVCC_FLAGS + ["-gencode", f"arch=compute_{code},code=sm_{code}"],
                  extra_include_paths=[str(csrc)], build_directory=str(work), verbose=True)
    seconds = time.perf_counter() - t0
    shutil.copy2(module.__file__, out / Path(module.__file__).name)
    package = out / "mamba_ssm"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(sdist / "mamba_ssm", package)
    version = next(line for line in (sdist / "mamba_ssm" / "__init__.py").read_text().splitlines()
                   if line.startswith("__version__"))
    (package / "__init__.py").write_text(version + "\n", encoding="utf-8")
    return seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sdist", type=Path, help="the unpacked mamba_ssm sdist (holds csrc/ and mamba_ssm/)")
    ap.add_argument("out", type=Path)
    ap.add_argument("--arch", default="9.0", help="CUDA compute capability (9.0: H100/H200)")
    args = ap.parse_args(argv)
    seconds = build(args.sdist, args.out, args.arch)
    print(f"selective_scan_cuda built for sm_{args.arch.replace('.', '')} in {seconds:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
