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
