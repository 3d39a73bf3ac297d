"""The `builder` command: thin click commands over the stage modules. Only this module chains
stages; a BuilderError becomes one line on stderr and a non-zero exit, without a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

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


@cli.command("segment")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Where to write the records: PATH.parquet for one file, any other path for a directory "
                   "of part-NNNNN.parquet shards. An existing output of the same kind is replaced when the "
                   "run succeeds.")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores). The output is byte-identical for any number.")
@click.option("--quarantine", type=click.Path(path_type=Path), default=None,
              help="JSONL file of rejected documents with their reasons (default: NAME.quarantine.jsonl "
                   "next to the output).")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="JSON run report: documents read, segmented, quarantined by reason, records per type, "
                   "encodings (default: NAME.report.json next to the output).")
@click.option("--shard-rows", type=click.IntRange(min=1), default=None,
              help="Rows per shard of a directory output (default: 1,000,000).")
@click.option("--id-field", default=None, help="Table inputs: the id column (default: 'id', else 'doc_id').")
@click.option("--text-field", default=None,
              help="Table inputs: the text column (default: 'text', else 'content').")
@click.option("--title-field", default=None, help="Table inputs: the title column (default: 'title' if present).")
@click.option("--url-field", default=None, help="Table inputs: the URL column (default: 'url' if present).")
@click.option("--domain-field", default=None,
              help="Table inputs: the domain column (default: 'domain' if present, else from the URL).")
def segment_cmd(inputs, out, workers, quarantine, report, shard_rows, id_field, text_field, title_field,
                url_field, domain_field) -> None:
    """Segment raw documents into typed records (article, quote, comment, reply, spam) as Parquet.

    INPUT is a file or a directory (read recursively, in sorted order, hidden names skipped):
    .txt (one document, doc_id = file stem), .jsonl/.ndjson, .csv or .parquet (one document per
    row/object). Documents that cannot be read or segmented go to the quarantine file with the
    reason; the run goes on.
    """
    from builder.ingest import Fields
    from builder.run import segment_corpus

    fields = Fields(id=id_field, text=text_field, title=title_field, url=url_field, domain=domain_field)
    result = segment_corpus(inputs, out, workers=workers, quarantine=quarantine, report=report,
                            shard_rows=shard_rows, fields=fields, progress=sys.stderr.isatty())
    docs, recs = result["documents"], result["records"]
    click.echo(f"segmented {docs['segmented']} of {docs['read']} documents ({docs['quarantined']} quarantined) "
               f"into {recs['total']} records: {out}", err=True)


def main() -> None:
    cli(prog_name="builder")
