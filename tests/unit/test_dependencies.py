"""Every top-level import in src/ comes from a distribution that pyproject.toml declares:
a fresh machine has nothing else (the standard library excepted)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src"


def normal(name: str) -> str:
    """PEP 503 normal form: lxml_html_clean == lxml-html-clean."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
    return {normal(match.group(0)) for d in project["dependencies"] if (match := names.match(d))}


def top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_every_import_is_a_declared_dependency() -> None:
    own = {path.name for path in SRC.iterdir()}
    distributions = packages_distributions()
    wanted = declared()
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        for module in sorted(top_level_imports(path)):
            if module in own or module in sys.stdlib_module_names:
                continue
            providers = distributions.get(module)
            if not providers:
                missing.append(f"{module} ({path.relative_to(REPO)}): no installed distribution")
            elif not any(normal(p) in wanted for p in providers):
                missing.append(f"{module} ({path.relative_to(REPO)}): from {providers}")
    assert not missing, "add to pyproject.toml [project] dependencies:\n" + "\n".join(missing)


def test_lxml_html_clean_is_declared_directly() -> None:
    # trafilatura/justext ask for lxml[html_clean]; pip 23 does not match lxml 6's
    # `html-clean` extra to it, so the cleaner must be a dependency of ours.
    assert "lxml-html-clean" in declared()
