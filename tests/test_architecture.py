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


# ---------------------------------------------------------------- engine/ in rooms (docs/ARCHITECTURE.md)

ENGINE_ROOMS = ("model", "raster", "classify", "trust", "accuracy", "batch", "nn")
# A room imports rooms on lower floors only (the ground floor: engine's own top-level modules).
ROOM_FLOORS = {"ground": 1, "nn": 2, "raster": 2, "model": 3, "trust": 3, "classify": 4, "accuracy": 4,
               "batch": 5, "__main__": 6}
MAX_LINES = 450


def engine_room(module: str) -> str | None:
    """The room of an engine module (dotted name): a room package, '__main__' or 'ground'; None outside."""
    parts = module.split(".")
    if parts[0] != "engine":
        return None
    if len(parts) > 1 and parts[1] in ENGINE_ROOMS + ("__main__",):
        return parts[1]
    return "ground"


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Imports between engine rooms that do not go to a lower floor."""
    bad = []
    for a, targets in graph.items():
        for b in targets:
            ra, rb = engine_room(a), engine_room(b)
            if ra and rb and ra != rb and ROOM_FLOORS[rb] >= ROOM_FLOORS[ra]:
                bad.append(f"{a} -> {b}")
    return sorted(bad)


def test_room_checker_catches_upward_arrows():
    graph = {"engine.raster.read": {"engine.model.card", "engine.errors"},
             "engine.batch.run": {"engine.classify.run"}, "engine.trust.suggest": {"engine.model.card"},
             "engine.errors": {"engine.raster.read"}}
    assert upward_arrows(graph) == ["engine.errors -> engine.raster.read",
                                    "engine.raster.read -> engine.model.card",
                                    "engine.trust.suggest -> engine.model.card"]


def test_engine_rooms_import_downwards_only():
    graph = module_graph(REPO)
    rooms = {engine_room(m) for m in graph if m.startswith("engine.")}
    assert rooms == set(ROOM_FLOORS)  # every room exists, and nothing outside the table
    assert upward_arrows(graph) == []


def test_engine_top_level_has_the_rooms_and_at_most_eight_modules():
    top = sorted(p.name for p in (REPO / "engine").iterdir() if p.suffix == ".py")
    packages = sorted(p.name for p in (REPO / "engine").iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(ENGINE_ROOMS)
    assert len([name for name in top if name != "__init__.py"]) <= 8, top


def imports_anything(source: str) -> bool:
    """Whether a module's source has any import statement (at any level)."""
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(ast.parse(source)))


def test_room_init_checker():
    assert imports_anything('"""map"""\nfrom .read import x\n')
    assert imports_anything('"""map"""\ndef f():\n    import os\n')
    assert not imports_anything('"""model/: what a .bdgf holds.\n\ncard  the card\n"""\n')


def test_room_inits_are_docstring_maps_that_import_nothing():
    for room in ENGINE_ROOMS:
        path = REPO / "engine" / room / "__init__.py"
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        assert ast.get_docstring(tree), f"{path}: no docstring map"
        assert not imports_anything(source), f"{path} imports"
        if room != "nn":  # nn/ keeps its own map; the rooms' maps name every module of the room
            modules = {p.stem for p in path.parent.glob("*.py") if p.name != "__init__.py"}
            named = {line.split()[0] for line in ast.get_docstring(tree).splitlines()[1:] if line.strip()}
            assert modules <= named, f"{path}: not in the map: {sorted(modules - named)}"


def test_module_level_checker_catches_osgeo_torch_and_onnxruntime():
    assert module_level_imports("from osgeo import gdal\n", "osgeo") == ["osgeo"]
    assert module_level_imports("import torch.nn as nn\n", "torch") == ["torch.nn"]
    assert module_level_imports("def f():\n    import onnxruntime\n", "onnxruntime") == []


def test_heavy_imports_at_module_level_only_in_their_rooms():
    """torch and onnxruntime at module level only in engine/nn/ (elsewhere inside the functions that need
    them: `import engine` stays light); osgeo at module level only in engine/raster/ (GDAL's room)."""
    offenders = []
    for path in sorted((REPO / "engine").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        source = path.read_text(encoding="utf-8")
        for top, home in (("torch", "engine/nn/"), ("onnxruntime", "engine/nn/"),
                          ("osgeo", "engine/raster/")):
            if module_level_imports(source, top) and not rel.startswith(home):
                offenders.append(f"{rel}: {top}")
    assert offenders == []


def product_modules(root: Path) -> list[str]:
    """Every Python module of the product (engine, training, ui, the plugin's entry points), as paths."""
    found = [p.relative_to(root).as_posix() for room in ROOMS for p in (root / room).rglob("*.py")]
    return sorted(found + [name for name in ("plugin.py", "__init__.py") if (root / name).is_file()])


def test_no_product_module_is_over_the_line_limit():
    long = {m: n for m in product_modules(REPO)
            if (n := len((REPO / m).read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def modules_named_in(text: str) -> set[str]:
    """Module paths a Markdown page names in backticks: `engine/raster/read.py`, `plugin.py`."""
    import re

    return set(re.findall(r"`((?:engine|training|ui)/[\w/]+\.py|plugin\.py|__init__\.py)`", text))


def test_architecture_page_checker():
    text = "| `engine/raster/read.py` | x |\n`ui/dock.py` and `<room>/cli.py`, `tests/test_a.py`, `plugin.py`"
    assert modules_named_in(text) == {"engine/raster/read.py", "ui/dock.py", "plugin.py"}


def test_architecture_page_names_every_module_and_no_other():
    named = modules_named_in((REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    existing = set(product_modules(REPO))
    assert sorted(existing - named) == [], "modules the page does not name"
    assert sorted(named - existing) == [], "modules the page names that do not exist"


# ---------------------------------------------------------------- what QGIS's process takes from training/

UI_TRAINING_MODULES = {"training.config_writer", "training.progress_stream"}


def test_the_qgis_side_imports_only_the_config_writer_and_the_progress_reader_from_training():
    """bdgf:train runs training in a child process: QGIS's own process imports from training/ only the
    config writer and the progress reader, and they import nothing at module level beyond the standard
    library (so torch never enters QGIS's process)."""
    import sys

    graph = module_graph(REPO)
    used = {t for m, targets in graph.items() if m.startswith("ui") for t in targets
            if t.startswith("training")} - {"training"}
    assert used == UI_TRAINING_MODULES
    for module in UI_TRAINING_MODULES:
        tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        tops = {a.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                for a in node.names}
        tops |= {node.module.split(".")[0] for node in tree.body
                 if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
        assert tops <= set(sys.stdlib_module_names) | {"__future__"}, (module, tops)
