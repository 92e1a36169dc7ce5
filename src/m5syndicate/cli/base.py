"""The command group, its shared options, and the one place errors become exit codes.

Exit codes (DESIGN.md): 0 done; 1 error; 2 bad usage; 3 finished with some deliveries
failed permanently.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from m5syndicate import __version__
from m5syndicate.config import Settings, load_settings, public_url_warnings
from m5syndicate.errors import InputError, M5Error
from m5syndicate.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command gets: the config path and a lazily built runtime."""

    def __init__(self, config_path: str | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug
        self._runtime: Runtime | None = None

    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def runtime(self, settings: Settings | None = None) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime(settings or self.settings())
        return self._runtime

    def warn_about_setup(self, settings: Settings) -> None:
        """Said at the start of commands that mail people or serve their links."""
        for warning in public_url_warnings(settings.site):
            click.secho(f"warning: {warning}", fg="yellow", err=True)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


class M5Group(click.Group):
    """Turns our errors into a short message and an exit code; --debug shows the trace."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except M5Error as exc:
            obj = ctx.find_object(Context)
            if obj is not None and obj.debug:
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            code = 2 if isinstance(exc, InputError) else exc.exit_code
            sys.exit(code)
        finally:
            obj = ctx.find_object(Context)
            if obj is not None:
                obj.close()


@click.group(cls=M5Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    envvar="M5_CONFIG",
    help="Configuration file [default: $M5_CONFIG, else config/m5syndicate.toml].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="m5syndicate")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """m5syndicate: collect M5 Dergi's articles, publish feeds, send digests.

    Every command reads the configuration from --config (or $M5_CONFIG, or
    config/m5syndicate.toml); any key can be overridden by M5_<SECTION>__<KEY>.
    """
    ctx.obj = Context(config_path, debug)


pass_context = click.make_pass_decorator(Context)


def echo_table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> None:
    """A plain aligned table; readable in a terminal and in a log."""
    table = [tuple(str(c) for c in header), *[tuple(str(c) for c in r) for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))


def resolve(path: str) -> str:
    return str(Path(path).resolve())
