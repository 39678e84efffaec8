"""engine/ and training/ must never import QGIS or Qt; nothing in the product imports the benchmarks
(parsed imports, not grep)."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "PyQt", "sip", "processing")


def absolute_imports(source: str) -> list[str]:
    """Every absolute import of a module's source (module-level and inside functions), as dotted names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def forbidden_imports(source: str) -> list[str]:
    """Names of forbidden top-level modules imported anywhere in a module's source."""
    return [name for name in absolute_imports(source) if name.split(".")[0] in FORBIDDEN]


def imported_modules(source: str, top: str) -> list[str]:
    """Absolute imports of the top-level package `top` (or its modules) anywhere in a module's source."""
    return [name for name in absolute_imports(source) if name.split(".")[0] == top]


def test_checker_catches_forbidden_imports():
    assert forbidden_imports("import qgis.core\n") == ["qgis.core"]
    assert forbidden_imports("def f():\n    from PyQt5.QtCore import QObject\n") == ["PyQt5.QtCore"]
    assert forbidden_imports("from qgis.PyQt import QtGui\nimport numpy\n") == ["qgis.PyQt"]
    assert forbidden_imports("import numpy\nfrom .raster import read\nfrom osgeo import gdal\n") == []


def test_engine_and_training_never_import_qgis_or_qt():
    offenders = {}
    for package in ("engine", "training"):
        for path in sorted((REPO / package).rglob("*.py")):
            bad = forbidden_imports(path.read_text(encoding="utf-8"))
            if bad:
                offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}


def test_engine_uses_relative_imports_only():
    offenders = []
    for path in sorted((REPO / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in ("engine", "training"):
                    offenders.append(f"{path.relative_to(REPO)}: from {node.module}")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path.relative_to(REPO)}: import {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] in ("engine", "training")
                ]
    assert offenders == []


def test_importing_engine_does_not_import_torch_or_onnxruntime():
    import subprocess
    import sys

    code = (
        "import sys, engine, engine.model.environment, engine.progress, engine.errors\n"
        "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def module_level_imports(source: str, top: str) -> list[str]:
    """Imports of `top` that run when the module is imported (outside any function body)."""
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.extend(a.name for a in child.names if a.name.split(".")[0] == top)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module \
                    and child.module.split(".")[0] == top:
                found.append(child.module)
            visit(child)

    visit(ast.parse(source))
    return found


def test_checker_catches_module_level_ray_imports():
    assert module_level_imports("import ray\n", "ray") == ["ray"]
    assert module_level_imports("class A:\n    from ray import util\n", "ray") == ["ray"]
    assert module_level_imports("try:\n    import ray.data\nexcept ImportError:\n    pass\n", "ray") == \
        ["ray.data"]
    assert module_level_imports("def f():\n    import ray\n", "ray") == []
    assert module_level_imports("import rayon\nfrom .ray import x\n", "ray") == []


def test_only_the_batch_command_imports_ray_and_only_inside_functions():
    """Ray is the batch command's (batch/run.py), imported where it is used: `import engine`, the plugin
    and every other module work without it."""
    import subprocess
    import sys

    importers, module_level = [], []
    for room in ("engine", "training", "ui"):
        for path in sorted((REPO / room).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            rel = path.relative_to(REPO).as_posix()
            if imported_modules(source, "ray"):
                importers.append(rel)
            module_level += [rel] if module_level_imports(source, "ray") else []
    assert importers == ["engine/batch/run.py"] and module_level == []
    code = ("import sys, engine, engine.batch.run, engine.batch.cli, engine.batch.job, engine.__main__\n"
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# The benchmarks (bench/) use the product; the product (plugin, engine, training, ui, scripts) never
# uses them.
PRODUCT = ("engine", "training", "ui", "scripts", "plugin.py", "__init__.py")


def bench_offenders(root: Path) -> dict[str, list[str]]:
    """{file: bench modules it imports} over the product's Python files under `root`."""
    offenders = {}
    for entry in PRODUCT:
        path = root / entry
        sources = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
        for source in sources:
            found = imported_modules(source.read_text(encoding="utf-8"), "bench")
            if found:
                offenders[source.relative_to(root).as_posix()] = found
    return offenders


def test_bench_checker_catches_bench_imports(tmp_path):
    assert imported_modules("import bench.x\n", "bench") == ["bench.x"]
    assert imported_modules("def f():\n    from bench import y\n", "bench") == ["bench"]
    # not the bench package: a relative module of that name, another package, a name in a string
    assert imported_modules("from .bench import x\nimport benchmark\nfrom engine import bench\n"
                            "s = 'import bench'\n", "bench") == []
    (tmp_path / "engine" / "nn").mkdir(parents=True)
    (tmp_path / "engine" / "nn" / "x.py").write_text("import numpy\nimport bench.x\n", encoding="utf-8")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "y.py").write_text("def f():\n    from bench import y\n", encoding="utf-8")
    (tmp_path / "plugin.py").write_text("from bench.testbed.main import main\n", encoding="utf-8")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "z.py").write_text("import bench.stamp\n", encoding="utf-8")  # bench itself may
    assert bench_offenders(tmp_path) == {"engine/nn/x.py": ["bench.x"], "scripts/y.py": ["bench"],
                                         "plugin.py": ["bench.testbed.main"]}


def test_product_never_imports_bench():
    assert bench_offenders(REPO) == {}


# The rooms: ui -> engine <- training. Module graph over the product, with relative imports resolved
# (module-level and function-level imports alike: a lazy import is still an arrow).
ROOMS = ("engine", "training", "ui")


def module_graph(root: Path) -> dict[str, set[str]]:
    """{module: product modules it imports} for engine/, training/, ui/ under `root`."""
    files = {}
    for room in ROOMS:
        for path in sorted((root / room).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets |= {base} | {f"{base}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def wrong_way_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Arrows from engine to training or ui, and from training to ui."""
    forbidden = {"engine": ("training", "ui"), "training": ("ui",)}
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if b.split(".")[0] in forbidden.get(a.split(".")[0], ()))


def test_graph_checker_catches_cycles_and_wrong_way_arrows(tmp_path):
    for room in ROOMS:
        (tmp_path / room).mkdir()
        (tmp_path / room / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "engine" / "a.py").write_text("from .b import x\n", encoding="utf-8")
    (tmp_path / "engine" / "b.py").write_text("def f():\n    from . import a\n", encoding="utf-8")
    (tmp_path / "training" / "t.py").write_text("from engine import a\nimport ui.u\n", encoding="utf-8")
    (tmp_path / "ui" / "u.py").write_text("from ..engine.a import x\n", encoding="utf-8")
    graph = module_graph(tmp_path)
    assert graph["ui.u"] == {"engine.a"} and graph["training.t"] == {"engine", "engine.a", "ui.u"}
    assert find_cycle(graph) in (["engine.a", "engine.b", "engine.a"], ["engine.b", "engine.a", "engine.b"])
    assert wrong_way_arrows(graph) == ["training.t -> ui.u"]


def test_product_import_graph_has_no_cycle_and_no_wrong_way_arrow():
    graph = module_graph(REPO)
    assert len(graph) > 50  # the walk found the product
    assert find_cycle(graph) is None
    assert wrong_way_arrows(graph) == []
