"""What this Python can run: versions and locations of the ML packages, the ONNX Runtime provider a
tiny test session really used, CUDA / cuDNN visibility, and the exact commands that install what is
missing. `environment_report()` is JSON-safe; `format_report()` makes the text users paste into a bug
report (the QGIS side adds QGIS's own lines, ui/alg_environment.py).

Nothing here shells out (no pip, no ldconfig, no nvidia-smi): packages are imported, libraries are
opened with ctypes, and the test session is built from a few hand-encoded protobuf bytes, so it works
where the `onnx` package is missing (most QGIS installs).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys
import sysconfig

from ..settings import BACKEND_PACKAGES, BACKENDS

# From the one table of what each backend imports (settings.BACKEND_PACKAGES): the default backend's
# packages are required, the others' optional.
REQUIRED = BACKEND_PACKAGES[BACKENDS[0]]
OPTIONAL_USE = {**{name: f"the {backend!r} backend" for backend in BACKENDS[1:]
                   for name in BACKEND_PACKAGES[backend] if name not in REQUIRED},
                "mamba_ssm": "fused Mamba kernels, GPU only; the engine's own scan runs without it"}
OPTIONAL = tuple(OPTIONAL_USE)
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")

# ctypes names of the NVIDIA libraries ONNX Runtime (CUDA provider) and torch need; first found wins.
CUDA_LIBRARIES = {
    "NVIDIA driver (libcuda)": ("libcuda.so.1", "nvcuda.dll"),
    "CUDA runtime (cudart)": ("libcudart.so.12", "libcudart.so.11.0", "cudart64_12.dll", "cudart64_110.dll"),
    "cuBLAS": ("libcublas.so.12", "libcublas.so.11", "cublas64_12.dll", "cublas64_11.dll"),
    "cuDNN": ("libcudnn.so.9", "libcudnn.so.8", "cudnn64_9.dll", "cudnn64_8.dll"),
}


# ---------------------------------------------------------------- Python and pip

def python_executable() -> str:
    """The Python interpreter of this process, for `-m pip` (inside QGIS sys.executable is often QGIS
    itself or whichever `python3` the PATH finds, not the Python QGIS embeds)."""
    exe = sys.executable or ""
    prefixes = {os.path.abspath(p) for p in (sys.prefix, sys.exec_prefix)}
    if os.path.basename(exe).lower().startswith("python") and os.path.isfile(exe) and any(
            os.path.abspath(exe).startswith(p + os.sep) for p in prefixes):
        return exe
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for prefix in (sys.exec_prefix, sys.prefix):
        for candidate in (os.path.join(prefix, "bin", f"python{version}"),
                          os.path.join(prefix, "bin", f"python{sys.version_info[0]}"),
                          os.path.join(prefix, "python.exe"), os.path.join(prefix, "python3.exe")):
            if os.path.isfile(candidate):
                return candidate
    return exe or "python3"


def externally_managed() -> bool:
    """PEP 668: a system Python (Debian 12+, Ubuntu 23.04+) whose pip refuses plain installs."""
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    stdlib = sysconfig.get_paths().get("stdlib") or ""
    return not in_venv and os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED"))


def pip_command() -> str:
    """`<this python> -m pip install` plus the options this Python needs."""
    command = f"{python_executable()} -m pip install"
    if externally_managed():  # QGIS uses the system Python: install for this user, next to apt's packages
        command += " --user --break-system-packages"
    return command


def install_hint(missing: list[str]) -> str:
    """The exact command that installs the missing packages into this Python."""
    if not missing:
        return ""
    return f"{pip_command()} " + " ".join(sorted(missing))


# ---------------------------------------------------------------- packages

def try_import(name: str):
    """(module or None, error text or None). A broken install raises anything, not just ImportError."""
    try:
        return importlib.import_module(name), None
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 (a broken binary wheel: report it, never crash the report)
        return None, f"{type(exc).__name__}: {exc}"


def importable(name: str) -> bool:
    """Whether `name` imports in this Python (a broken install counts as missing)."""
    return try_import(name)[0] is not None


def _version(module) -> str | None:
    return None if module is None else str(getattr(module, "__version__", "installed"))


def _installed(name: str) -> bool:
    """Whether the import system finds the package (found but failing to import = a broken install)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module blocked or half-imported
        return False


def _location(module) -> str | None:
    """The package folder (or module file) a module was imported from."""
    path = getattr(module, "__file__", None)
    if not path:
        return None
    path = os.path.dirname(path) if os.path.basename(path).startswith("__init__.") else path
    return path


def _distributions(names) -> list[str]:
    """Installed distributions among `names` (metadata only; nothing imported or run)."""
    from importlib import metadata

    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001 (odd metadata must not break the report: say so in it)
            found.append(f"{name} (unreadable metadata: {type(exc).__name__})")
    return found


# ---------------------------------------------------------------- ONNX Runtime test session

def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value) -> bytes:
    """One protobuf field: int -> varint (wire type 0), str/bytes -> length-delimited (wire type 2)."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _float_tensor_info(name: str, dims) -> bytes:
    shape = b"".join(_field(1, _field(1, d)) for d in dims)  # TensorShapeProto.dim.dim_value
    tensor = _field(1, 1) + _field(2, shape)  # TypeProto.Tensor: elem_type FLOAT (1), shape
    return _field(1, name) + _field(2, _field(1, tensor))  # ValueInfoProto: name, type.tensor_type


def tiny_onnx_model() -> bytes:
    """ModelProto bytes of y = x + x (x, y: float[1, 4]); IR 7, opset 13, readable by any recent ORT."""
    node = _field(1, "x") + _field(1, "x") + _field(2, "y") + _field(3, "add") + _field(4, "Add")
    graph = (_field(1, node) + _field(2, "bdgf_diagnostics")
             + _field(11, _float_tensor_info("x", (1, 4))) + _field(12, _float_tensor_info("y", (1, 4))))
    opset = _field(1, "") + _field(2, 13)
    return _field(1, 7) + _field(2, "bdgf") + _field(7, graph) + _field(8, opset)


def onnx_session_check(ort, device: str = "auto") -> dict:
    """Create and run a tiny session with the providers a run would request; read back the used ones."""
    from ..settings import onnx_providers

    requested = onnx_providers(list(ort.get_available_providers()), device)
    result = {"requested": requested, "used": [], "ok": False, "error": None}
    try:
        import numpy as np

        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(tiny_onnx_model(), sess_options=options, providers=requested)
        result["used"] = list(session.get_providers())
        x = np.arange(4, dtype=np.float32).reshape(1, 4)
        y = session.run(["y"], {"x": x})[0]
        result["ok"] = bool(np.array_equal(y, x + x))
        if not result["ok"]:
            result["error"] = f"wrong result {y.tolist()}"
    except Exception as exc:  # noqa: BLE001 (ORT raises its own types; the report says what happened)
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


# ---------------------------------------------------------------- CUDA

def _loaded_path(name: str) -> str | None:
    """Where a shared library opened by this process lives (Linux: /proc/self/maps; else None)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip()
                if os.path.basename(path).startswith(name):
                    return path
    except OSError:
        return None
    return None


def cuda_libraries() -> dict[str, str | None]:
    """{library: where it was found (or its name) / None}: what the dynamic loader can open."""
    import ctypes

    found = {}
    for what, names in CUDA_LIBRARIES.items():
        found[what] = None
        for name in names:
            try:
                ctypes.CDLL(name)
            except OSError:
                continue
            found[what] = _loaded_path(name) or name
            break
    return found


def cuda_driver() -> dict:
    """Driver version and GPU names through the CUDA driver API (ctypes), without torch or nvidia-smi."""
    import ctypes

    for name in CUDA_LIBRARIES["NVIDIA driver (libcuda)"]:
        try:
            cuda = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return {"driver": None, "gpus": [], "error": "no NVIDIA driver library (libcuda) found"}
    info = {"driver": None, "gpus": [], "error": None}
    version, count = ctypes.c_int(0), ctypes.c_int(0)
    if cuda.cuDriverGetVersion(ctypes.byref(version)) == 0:
        info["driver"] = f"CUDA {version.value // 1000}.{version.value % 1000 // 10}"
    status = cuda.cuInit(0)
    if status != 0:
        info["error"] = f"cuInit failed with CUDA error {status} (no usable GPU, or a driver problem)"
        return info
    if cuda.cuDeviceGetCount(ctypes.byref(count)) == 0:
        for index in range(count.value):
            device, buffer = ctypes.c_int(0), ctypes.create_string_buffer(256)
            if cuda.cuDeviceGet(ctypes.byref(device), index) == 0 and \
                    cuda.cuDeviceGetName(buffer, 256, device) == 0:
                info["gpus"].append(buffer.value.decode("utf-8", "replace"))
    return info


def _torch_cuda(torch) -> dict:
    info = {"available": False, "cuda_version": getattr(torch.version, "cuda", None), "cudnn": None,
            "devices": [], "error": None}
    try:
        info["available"] = bool(torch.cuda.is_available())
        if info["available"]:
            info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cudnn"] = torch.backends.cudnn.version()
    except Exception as exc:  # noqa: BLE001
        info["error"] = f"{type(exc).__name__}: {exc}"
    return info


# ---------------------------------------------------------------- the report

def environment_report(check_cuda: bool = True) -> dict:
    """A JSON-safe report users can paste into an issue (format_report makes it readable)."""
    report = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "python_for_pip": python_executable(),
        "prefix": sys.prefix,
        # not platform.platform(): it runs `uname -p` (a process) on Linux
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "packages": {},
        "locations": {},
        "import_errors": {},
    }
    modules = {}
    for name in REQUIRED + OPTIONAL:
        module, error = try_import(name)
        modules[name] = module
        report["packages"][name] = _version(module)
        report["locations"][name] = _location(module)
        if module is None and _installed(name):
            report["import_errors"][name] = error  # installed but broken: the most frequent problem
    try:
        from osgeo import gdal

        report["gdal"] = gdal.__version__
    except ImportError:
        report["gdal"] = None
    report["onnxruntime_distributions"] = _distributions(ORT_DISTRIBUTIONS)
    ort = modules["onnxruntime"]
    if ort is not None:
        report["onnxruntime_providers"] = list(ort.get_available_providers())
        report["onnxruntime_session"] = onnx_session_check(ort)
    if modules["torch"] is not None:
        torch_cuda = _torch_cuda(modules["torch"])
        report["torch_cuda"] = torch_cuda["available"]
        report["torch_cuda_detail"] = torch_cuda
    if check_cuda:
        report["cuda_driver"] = cuda_driver()
        report["cuda_libraries"] = cuda_libraries()
    report["cuda_env"] = {k: v for k, v in os.environ.items() if k in ("CUDA_PATH", "CUDA_HOME",
                                                                        "CUDA_VISIBLE_DEVICES")}
    report["pip_available"] = _installed("pip")
    report["missing"] = [name for name in REQUIRED if report["packages"][name] is None]
    report["actions"] = _actions(report)
    return report


def _actions(report: dict) -> list[str]:
    """What to do, with exact commands, for everything missing or inconsistent."""
    actions = []
    pip = pip_command()
    if not report["pip_available"]:
        actions.append("pip is not available in this Python: install it first (Debian/Ubuntu: "
                       "`sudo apt install python3-pip`; elsewhere: "
                       f"`{python_executable()} -m ensurepip --upgrade`).")
    for name, error in report["import_errors"].items():
        actions.append(f"{name} is installed but cannot be imported ({error}). Reinstall it: "
                       f"`{pip} --force-reinstall {name}`" + (" (keep numpy on 1.x where QGIS's GDAL "
                                                              "was built against numpy 1.x)."
                                                              if name == "numpy" else "."))
    broken = set(report["import_errors"])
    missing = [n for n in report["missing"] if n not in broken]
    if missing:
        actions.append(f"Required, missing: {', '.join(missing)}. Install: `{install_hint(missing)}`, "
                       "then restart QGIS.")
    for name in OPTIONAL:
        if report["packages"][name] is None and name not in broken and name != "mamba_ssm":
            actions.append(f"Optional, missing: {name} ({OPTIONAL_USE[name]}). Install: "
                           f"`{install_hint([name])}`.")
    ort_dists = [d.split()[0] for d in report.get("onnxruntime_distributions", [])]
    if len(ort_dists) > 1:
        keep = "onnxruntime-gpu" if "onnxruntime-gpu" in ort_dists else ort_dists[0]
        drop = " ".join(d for d in ort_dists if d != keep)
        actions.append(f"Several ONNX Runtime packages are installed ({', '.join(ort_dists)}); they own the "
                       f"same folder and break each other. Keep one: `{python_executable()} -m pip "
                       f"uninstall -y {drop}` then `{pip} --force-reinstall {keep}`.")
    gpus = (report.get("cuda_driver") or {}).get("gpus") or []
    providers = report.get("onnxruntime_providers") or []
    session = report.get("onnxruntime_session") or {}
    if gpus and report["packages"]["onnxruntime"] and "CUDAExecutionProvider" not in providers:
        actions.append(f"An NVIDIA GPU is visible ({gpus[0]}) but this ONNX Runtime is CPU-only. "
                       f"For the GPU: `{python_executable()} -m pip uninstall -y onnxruntime` then "
                       f"`{pip} onnxruntime-gpu` (never both).")
    if "CUDAExecutionProvider" in session.get("requested", []) and \
            "CUDAExecutionProvider" not in session.get("used", []):
        missing_libs = [k for k, v in (report.get("cuda_libraries") or {}).items() if v is None]
        actions.append("ONNX Runtime has the CUDA provider but could not use it, so runs use the CPU"
                       + (f" (not found: {', '.join(missing_libs)})" if missing_libs else "")
                       + f". Install the CUDA 12 / cuDNN 9 libraries (e.g. `{pip} nvidia-cudnn-cu12 "
                         "nvidia-cublas-cu12 nvidia-cuda-runtime-cu12`) or the NVIDIA driver.")
    return actions


def run_device(report: dict) -> str:
    """In words: where a classification with device 'auto' would run (ONNX Runtime backend)."""
    session = report.get("onnxruntime_session")
    if not session:
        return "nowhere yet: onnxruntime is missing"
    if not session["ok"]:
        return f"unknown: the test session failed ({session['error']})"
    return "GPU (CUDA)" if "CUDAExecutionProvider" in session["used"] else "CPU"


def _yes(value) -> str:
    return value if value else "not found"


def format_report(report: dict, header: list[tuple[str, str]] = ()) -> str:
    """The text users paste into a bug report: `header` (QGIS's lines) first, then this Python's."""
    lines = ["BDGF for QGIS: environment report", ""]
    width = max([len(k) for k, _v in header] + [22])
    row = f"{{:<{width}}}  {{}}"
    lines += [row.format(k, v) for k, v in header]
    lines += [row.format("Python", f"{report['python']} (prefix {report['prefix']})"),
              row.format("Python for pip", report["python_for_pip"]),
              row.format("sys.executable", report["executable"]),
              row.format("Platform", report["platform"]),
              row.format("GDAL (Python)", _yes(report.get("gdal"))),
              "", "Packages"]
    for name in REQUIRED + OPTIONAL:
        version = report["packages"][name]
        where = report["locations"].get(name) or ""
        state = version or ("BROKEN: " + report["import_errors"][name] if name in report["import_errors"]
                            else "not installed")
        lines.append(f"  {name:<12} {state:<14} {where}".rstrip())
    if report.get("onnxruntime_distributions"):
        lines.append(f"  installed ONNX Runtime packages: {', '.join(report['onnxruntime_distributions'])}")
    lines += ["", "ONNX Runtime"]
    if "onnxruntime_providers" in report:
        session = report["onnxruntime_session"]
        lines += [f"  providers available: {', '.join(report['onnxruntime_providers'])}",
                  f"  test session requested: {', '.join(session['requested'])}",
                  f"  test session used:      {', '.join(session['used']) or '-'}"
                  + ("  (ran, result correct)" if session["ok"] else f"  (FAILED: {session['error']})")]
    lines.append(f"  a classification (device auto) runs on: {run_device(report)}")
    lines += ["", "CUDA"]
    driver = report.get("cuda_driver")
    if driver is not None:
        lines.append(f"  NVIDIA driver: {_yes(driver['driver'])}"
                     + (f"; GPUs: {', '.join(driver['gpus'])}" if driver["gpus"] else "")
                     + (f" ({driver['error']})" if driver["error"] else ""))
        for what, where in report["cuda_libraries"].items():
            if not what.startswith("NVIDIA driver"):
                lines.append(f"  {what}: {_yes(where)}")
    detail = report.get("torch_cuda_detail")
    if detail is not None:
        text = "available" if detail["available"] else "not available"
        text += f", built for CUDA {detail['cuda_version']}" if detail["cuda_version"] else ", CPU-only build"
        if detail["devices"]:
            text += f", devices: {', '.join(detail['devices'])}, cuDNN {detail['cudnn']}"
        lines.append(f"  torch CUDA: {text}" + (f" ({detail['error']})" if detail["error"] else ""))
    for key, value in report.get("cuda_env", {}).items():
        lines.append(f"  {key}={value}")
    lines += ["", "To do"]
    todo = [f"  - {action}" for action in report["actions"]]
    lines += todo or ["  nothing: everything needed is installed."]
    return "\n".join(lines) + "\n"
