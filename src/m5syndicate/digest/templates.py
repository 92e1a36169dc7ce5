"""The Jinja2 environment for email templates.

Lookup order: ``[newsletter] templates_dir`` (the operator's overrides), then the
bundled templates (inside the installed wheel, or ``templates/email`` of a checkout).
Autoescape is on and an undefined variable is an error, never an empty string.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGED = Path(__file__).resolve().parent.parent / "templates" / "email"
CHECKOUT = Path(__file__).resolve().parents[3] / "templates" / "email"


def bundled_templates_dir() -> Path:
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def email_environment(templates_dir: str = "") -> Environment:
    folders = [Path(templates_dir)] if templates_dir else []
    folders.append(bundled_templates_dir())
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
