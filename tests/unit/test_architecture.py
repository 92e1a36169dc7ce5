"""Dependencies point down (DESIGN.md): checked by reading imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "m5syndicate"
IO_LIBRARIES = {"httpx", "jinja2", "aiosmtplib", "feedgen", "starlette", "uvicorn"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("store"), ids=lambda p: p.name)
def test_store_does_no_network_templating_or_mail(path: Path) -> None:
    found = {name.split(".")[0] for name in imports_of(path)} & IO_LIBRARIES
    assert not found, f"{path.name} imports {found}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_only_the_store_imports_sqlalchemy_sql_builders(path: Path) -> None:
    if "store" in path.relative_to(PACKAGE).parts:
        return
    # Engines and connections may be passed around; queries are built in store/ only.
    builders = {"insert", "select", "update", "delete", "text"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlalchemy.sql"):
            used = {alias.name for alias in node.names} & builders
            assert not used, f"{path.name} builds SQL ({used}); move the query to store/"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_imports_inside_functions(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                assert not isinstance(inner, ast.Import | ast.ImportFrom), (
                    f"{path.name}:{inner.lineno} imports inside {node.name}()"
                )


# Floors, top to bottom (DESIGN.md): a module may import its own floor or one below, and
# the packages of one floor form no cycle.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("__main__", "cli", "web", "scheduling", "demo"),  # entry points
    ("runtime",),  # the composition root
    ("flows", "delivery"),  # use cases that chain the mechanisms
    (
        "collect",
        "feeds",
        "digest",
        "mail",
        "subscribers",
        "admins",
        "metrics",
        "logs",
        "bounces",
    ),  # mechanisms
    ("store",),
    ("models", "errors", "config", "__init__"),
)
FLOOR_OF = {package: depth for depth, names in enumerate(FLOORS) for package in names}


def package_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def internal_imports(path: Path) -> set[str]:
    """The m5syndicate packages this module imports (``m5syndicate.x.y`` -> ``x``)."""
    found = set()
    for name in imports_of(path):
        parts = name.split(".")
        if parts[0] == "m5syndicate" and len(parts) > 1:
            found.add(parts[1])
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        own = package_of(path)
        graph.setdefault(own, set()).update(internal_imports(path) - {own})
    return graph


def test_every_package_has_a_floor() -> None:
    assert set(package_graph()) - set(FLOOR_OF) == set()


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_imports_point_down(path: Path) -> None:
    own = package_of(path)
    for other in internal_imports(path):
        assert FLOOR_OF[other] >= FLOOR_OF[own], (
            f"{path.relative_to(PACKAGE)} ({own}) imports {other}, a floor above it"
        )


def test_no_two_packages_import_each_other() -> None:
    graph = package_graph()
    for package, imported in graph.items():
        for other in imported:
            assert package not in graph.get(other, set()), f"{package} <-> {other}"


def test_no_package_cycles() -> None:
    graph = package_graph()
    done: set[str] = set()

    def visit(package: str, trail: tuple[str, ...]) -> None:
        assert package not in trail, " -> ".join((*trail, package))
        if package in done:
            return
        for other in sorted(graph.get(package, ())):
            visit(other, (*trail, package))
        done.add(package)

    for package in sorted(graph):
        visit(package, ())
