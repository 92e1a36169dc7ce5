"""Every setting is documented in the example config and in README (datasette's habit)."""

from __future__ import annotations

import re

import pytest

from m5syndicate.config import documented_keys, load_settings
from tests.conftest import REPO

CONFIG_TEXT = (REPO / "config" / "m5syndicate.toml").read_text(encoding="utf-8")
README_TEXT = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("section", "key", "help_text"), documented_keys())
def test_key_is_in_the_example_config(section: str, key: str, help_text: str) -> None:
    assert re.search(rf"^#?\s*{re.escape(key)}\b", CONFIG_TEXT, re.M), (
        f"[{section}] {key} is missing from config/m5syndicate.toml"
    )


@pytest.mark.parametrize(("section", "key", "help_text"), documented_keys())
def test_key_is_in_the_readme(section: str, key: str, help_text: str) -> None:
    assert f"`{key}`" in README_TEXT.split("## Configuration", 1)[-1], (
        f"[{section}] {key} is not documented in README's Configuration section"
    )


def test_example_config_loads() -> None:
    settings = load_settings(REPO / "config" / "m5syndicate.toml", env={})
    assert settings.sources
