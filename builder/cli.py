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


# --- Releases (builder/release.py) ---------------------------------------------------------------


@cli.command("publish")
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--labels", "labels_dir", type=click.Path(path_type=Path), default=None,
              help="LABELS directory written by `builder pull` (labels.parquet + labels.json). Without it the "
                   "release has no human labels, and its card says so.")
@click.option("--name", required=True, help="Dataset name: lowercase letters, digits, '.', '_', '-'.")
@click.option("--version", "version", required=True, help="Release version X.Y.Z; an existing one is refused.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="RELEASES directory; the release goes to RELEASES/NAME/X.Y.Z.")
@click.option("--ratios", default="80/10/10", show_default=True,
              help="train/validation/test shares of documents, e.g. 80/10/10 or 0.7,0.15,0.15.")
def publish_cmd(records: Path, labels_dir: Path | None, name: str, version: str, out: Path, ratios: str) -> None:
    """Publish RECORDS (a records Parquet file or a directory of shards from any engine) as the
    immutable release RELEASES/NAME/X.Y.Z: zstd Parquet splits grouped by document (near-duplicates
    kept in one split), dataset card, manifest with checksums, Croissant metadata, changelog and
    chart. Written to a temporary directory and renamed into place only when complete; the same
    inputs give byte-identical files."""
    from builder import release

    staged = release.stage(records, labels_dir, name=name, version=version, out=out,
                           ratios=release.parse_ratios(ratios))
    try:
        path = release.seal(staged, None)
    finally:
        staged.discard()
    m = staged.manifest
    rows = ", ".join(f"{s} {m['splits'][s]['rows']}" for s in release.SPLITS)
    click.echo(f"published {name} {version}: {rows} records; fingerprint {m['fingerprint']}", err=True)
    click.echo(f"{path}\n\nLoad it with:\n  python -c \"import datasets; print(datasets.load_dataset('{path}'))\"")


@cli.command("verify")
@click.argument("release_dir", metavar="RELEASE", type=click.Path(path_type=Path))
@click.option("--skip-duplicates", is_flag=True,
              help="Do not repeat the near-duplicate check (the slowest part on large releases).")
def verify_cmd(release_dir: Path, skip_duplicates: bool) -> None:
    """Check RELEASE (RELEASES/NAME/X.Y.Z) against its manifest: checksums and sizes of every file,
    the fingerprint, file names, schema and features, row counts, order, unique record ids, class
    indices, and that no document or near-duplicate group is in two splits. Prints every problem
    and exits 1 when there is any."""
    from builder import release

    problems = release.verify(release_dir, duplicates=not skip_duplicates)
    m = release.read_manifest(release_dir)
    if problems:
        for p in problems:
            click.echo(f"FAIL {p}", err=True)
        click.echo(f"{release_dir}: {len(problems)} problem(s); this is not the release {m['name']} {m['version']} "
                   "as published", err=True)
        sys.exit(1)
    rows = sum(s["rows"] for s in m["splits"].values())
    click.echo(f"ok {m['name']} {m['version']}: {len(m['files'])} data files, {rows} records, fingerprint "
               f"{m['fingerprint']}")


@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full diff as JSON (every record_id).")
@click.option("--show", type=click.IntRange(min=0), default=20, show_default=True,
              help="Record ids to list per kind of change in the summary.")
def diff_cmd(old: Path, new: Path, as_json: bool, show: int) -> None:
    """Compare two releases by record_id: records added, removed and changed (any record field, with
    counts per field), label changes (with transitions), and documents that moved split."""
    import json

    from builder import release

    d = release.diff(old, new)
    click.echo(json.dumps(d, indent=2, ensure_ascii=False) if as_json else release.diff_summary(d, show=show))


def main() -> None:
    cli(prog_name="builder")
