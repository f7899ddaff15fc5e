"""Imports only go down the layers of DESIGN.md; nothing imports upward."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "emcomm"

# layer number per top-level module of the package (higher may import lower)
LAYERS: dict[str, int] = {
    "__init__": 0, "errors": 0, "priority": 0,
    "links": 1,
    "router": 2, "hazards": 2,
    "node": 3,
    "drill": 4, "interop": 4,
    "ui": 5,
    "cli": 6, "demo": 6, "__main__": 6,
    "chaos": 6,
}


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "emcomm":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_top_level_module_has_a_layer() -> None:
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert tops <= set(LAYERS), f"add these to LAYERS: {sorted(tops - set(LAYERS))}"


def test_imports_only_go_down() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        for lineno, module in _imports(path):
            target = _top(module)
            if target is None or target == own:
                continue
            if LAYERS[target] > LAYERS[own]:
                wrong.append(f"emcomm/{rel}:{lineno} ({own}, layer {LAYERS[own]}) imports {module} (layer {LAYERS[target]})")
    assert not wrong, "upward imports:\n" + "\n".join(wrong)
