"""The `builder` command: thin click commands over the stage modules. Only this module chains
stages; a BuilderError becomes one line on stderr and a non-zero exit, without a traceback."""

from __future__ import annotations

import sys

import click

from builder import __version__
from builder.errors import BuilderError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BuilderError as e:
            click.echo(f"builder: error: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="builder")
def cli() -> None:
    """Segment scraped news pages into typed records, label them in Label Studio, and publish
    them as versioned Parquet benchmarks."""


def main() -> None:
    cli(prog_name="builder")
