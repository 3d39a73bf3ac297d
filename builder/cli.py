"""The `builder` command: thin click commands over the stage modules. Only this module chains
stages; a BuilderError (or an OSError on a path the user gave) becomes one line on stderr and a non-zero
exit, without a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
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
        except OSError as e:  # the file system refused a path the user gave (a missing or read-only place, a
            # file where a directory is needed, disk full): the stages write under temporary names, so one line
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"builder: error: {where}{e.strerror or e}; nothing was written there", err=True)
            sys.exit(2)


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
@click.option("--doc-timeout", type=click.FloatRange(min=0), default=None,
              help="CPU seconds the segmenter may spend on one document before it is stopped and the "
                   "document quarantined (default: 300; 0: no limit).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: worker processes on this machine. ray: Ray Data on a local Ray instance or a "
                   "cluster (a directory output only; needs the extra: pip install '.[ray]').")
@click.option("--ray-address", default=None,
              help="--engine ray: the cluster to run on, e.g. 'auto' or 'ray://HEAD:10001' (default: "
                   "$RAY_ADDRESS, else a private local instance with --workers CPUs).")
@click.option("--id-field", default=None, help="Table inputs: the id column (default: 'id', else 'doc_id').")
@click.option("--text-field", default=None,
              help="Table inputs: the text column (default: 'text', else 'content').")
@click.option("--title-field", default=None, help="Table inputs: the title column (default: 'title' if present).")
@click.option("--url-field", default=None, help="Table inputs: the URL column (default: 'url' if present).")
@click.option("--domain-field", default=None,
              help="Table inputs: the domain column (default: 'domain' if present, else from the URL).")
def segment_cmd(inputs, out, workers, quarantine, report, shard_rows, doc_timeout, engine, ray_address, id_field,
                text_field, title_field, url_field, domain_field) -> None:
    """Segment raw documents into typed records (article, quote, comment, reply, spam) as Parquet.

    INPUT is a file or a directory (read recursively, in sorted order, hidden names skipped):
    .txt (one document, doc_id = file stem), .jsonl/.ndjson, .csv or .parquet (one document per
    row/object); all but .parquet may be gzipped (.gz). Documents that cannot be read or segmented go
    to the quarantine file with the reason; the run goes on.
    """
    from builder.ingest import Fields
    from builder.run import segment_corpus

    fields = Fields(id=id_field, text=text_field, title=title_field, url=url_field, domain=domain_field)
    if engine == "ray":
        from builder.engine_ray import segment_corpus  # noqa: F811 - imported only when chosen: Ray is an extra
        kwargs = {"address": ray_address}
    elif ray_address is not None:
        from builder.errors import InputError

        raise InputError("--ray-address applies to --engine ray; add --engine ray, or drop --ray-address")
    else:
        kwargs = {}
    if doc_timeout is not None:
        kwargs["doc_timeout"] = doc_timeout
    result = segment_corpus(inputs, out, workers=workers, quarantine=quarantine, report=report,
                            shard_rows=shard_rows, fields=fields, progress=sys.stderr.isatty(), **kwargs)
    docs, recs = result["documents"], result["records"]
    click.echo(f"segmented {docs['segmented']} of {docs['read']} documents ({docs['quarantined']} quarantined) "
               f"into {recs['total']} records: {out}", err=True)


# --- Labeling in Label Studio (builder/studio.py, builder/labels.py) -----------------------------


@cli.group("studio")
def studio_group() -> None:
    """Run the local Label Studio server: its own cached environment (label-studio 1.23.2), data under
    the state directory ($BUILDER_STATE_DIR, default ./.state), on 127.0.0.1 only."""


def _say(msg: str) -> None:
    click.echo(msg, err=True)


@studio_group.command("start")
def studio_start() -> None:
    """Install the server when missing (once, ~2 min), start it on a free loopback port, wait until it
    answers, and print its URL and the admin's credentials."""
    from builder import studio

    srv = studio.start(log=_say)
    click.echo(f"Label Studio runs at {srv.url} (pid {srv.pid})\n"
               f"  admin login: {srv.username} / {srv.password}\n"
               f"  API token:   {srv.token}\n"
               f"  data dir:    {srv.data_dir}\n"
               f"For scripts: export LABEL_STUDIO_URL={srv.url} LABEL_STUDIO_API_KEY={srv.token}")


@studio_group.command("stop")
def studio_stop() -> None:
    """Stop the server (SIGTERM to its process group, SIGKILL after 15 s). Data stays."""
    from builder import studio

    srv = studio.stop()
    click.echo(f"stopped Label Studio at {srv.url} (pid {srv.pid})" if srv else "Label Studio was not running")


@studio_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print url, token, data_dir and pid as JSON (exit 1 when stopped).")
def studio_status(as_json: bool) -> None:
    """Say whether the server runs, and where. Exit status 1 when it does not."""
    import json

    from builder import studio

    srv = studio.status()
    if as_json:
        click.echo(json.dumps(srv.public() | {"running": True} if srv else {"running": False}, indent=2))
    elif srv:
        click.echo(f"Label Studio runs at {srv.url} (pid {srv.pid}), data dir {srv.data_dir}")
    else:
        click.echo("Label Studio is not running (start it with `builder studio start`)")
    if srv is None:
        sys.exit(1)


@studio_group.command("add-annotator")
@click.argument("name")
@click.option("--password", default=None, help="Password to set (default: a random one, printed).")
def studio_add_annotator(name: str, password: str | None) -> None:
    """Create an annotator account NAME (login NAME@builder.local, or NAME itself when it is an
    e-mail) that logs in through the web page and has its own API token."""
    from builder import studio

    acct = studio.add_annotator(name, password)
    srv = studio.status()
    click.echo(f"annotator {acct['email']} created: open {srv.url if srv else 'the server'} and log in with\n"
               f"  e-mail:    {acct['email']}\n  password:  {acct['password']}\n  API token: {acct['token']}")


@cli.command("push")
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--project", required=True, help="Label Studio project title; created (config + guidelines) when missing.")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Tasks per import request; each batch is committed whole.")
@click.option("--overlap", type=click.IntRange(min=1), default=2, show_default=True,
              help="A new project's annotators per task: the labeling queue serves each task until this many "
                   "have answered (agreement needs 2 or more).")
@click.option("--mode", type=click.Choice(["record", "document"]), default="record", show_default=True,
              help="record: one task per record (its type). document: one task per document, the whole page "
                   "with the segmenter's records as spans, reply relations and speakers/authors to correct.")
@click.option("--docs", "docs", multiple=True, type=click.Path(path_type=Path),
              help="--mode document: the inputs `builder segment` read (repeatable); the raw text of each "
                   "document is read from them and checked against its records.")
def push_cmd(records: Path, project: str, batch_size: int, overlap: int, mode: str, docs: tuple[Path, ...]) -> None:
    """Send RECORDS (a records Parquet file or directory) to Label Studio as tasks, pre-annotated with
    the segmenter's type and score. Tasks are keyed by record_id: pushing again adds only new
    records, and an interrupted push completes when run again. With --mode document, one task per
    document keyed by doc_id and the hash of its text (a changed text is reported, never replaced).
    Server: LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY, else the running `builder studio` server."""
    from tqdm import tqdm

    from builder import studio

    if mode == "document" or docs:
        _push_documents(records, project, batch_size, mode, docs)
        return
    client = studio.connect()
    done = {"planned": None, "imported": 0}

    def plan(n_records: int, n_new: int) -> None:
        done["planned"] = n_new
        bar.reset(total=n_new)

    def batch(n: int) -> None:
        done["imported"] += n
        bar.update(n)

    with tqdm(unit="task", desc=f"push {project}", disable=None) as bar, \
            _push_interrupted(bar, lambda: f"{done['imported']} of {done['planned'] or '?'} new tasks"):
        rep = studio.push(records, project, client=client, batch_size=batch_size, overlap=overlap, on_plan=plan,
                          on_batch=batch)
    made = "created" if rep.created else "existing"
    click.echo(f"{made} project {project!r} (id {rep.project_id}): {rep.records} records, {rep.already} already "
               f"there, {rep.imported} imported in {rep.batches} batches", err=True)
    if rep.duplicates_in_project:
        click.echo(f"warning: {len(rep.duplicates_in_project)} record_ids occur in several tasks of the project "
                   f"(made outside builder push), e.g. {rep.duplicates_in_project[0]}", err=True)


@contextmanager
def _push_interrupted(bar, committed: Callable[[], str]):
    """Ctrl-C during a push: the bar closed, one line saying what was committed and that the same
    push completes it, exit status 130 (a push is idempotent, so nothing is lost)."""
    try:
        yield
    except KeyboardInterrupt:
        bar.close()
        click.echo(f"builder: interrupted after {committed()} were committed; run the same push again to complete it "
                   f"(no duplicates)", err=True)
        sys.exit(130)


def _push_documents(records: Path, project: str, batch_size: int, mode: str, docs: tuple[Path, ...]) -> None:
    from tqdm import tqdm

    from builder import docmode
    from builder.errors import InputError

    if mode != "document":
        raise InputError("--docs applies to --mode document; add --mode document, or drop --docs")
    if not docs:
        raise InputError("--mode document needs --docs INPUT: the documents `builder segment` read, for their raw text")
    done = [0]

    def batch(n: int) -> None:
        done[0] += n
        bar.update(n)

    with tqdm(unit="doc", desc=f"push {project}", disable=None) as bar, \
            _push_interrupted(bar, lambda: f"{done[0]} new documents"):
        rep = docmode.push(records, docs, project, batch_size=batch_size, on_batch=batch)
    made = "created" if rep.created else "existing"
    click.echo(f"{made} document project {project!r} (id {rep.project_id}): {rep.documents} documents, {rep.already} "
               f"already there, {rep.imported} imported ({rep.regions} regions, {rep.relations} relations) in "
               f"{rep.batches} batches", err=True)
    if rep.changed:
        click.echo(f"warning: {len(rep.changed)} document(s) changed text since they were pushed and were NOT "
                   f"replaced (label them in a new project): {', '.join(rep.changed[:5])}", err=True)


@cli.command("pull")
@click.option("--project", required=True, help="Label Studio project title.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="LABELS directory to write (replaced as a whole when the pull succeeds).")
@click.option("--mode", type=click.Choice(["record", "document"]), default="record", show_default=True,
              help="document: a project made by `push --mode document`; writes per-annotator records, "
                   "agreement, gold records and the problems found (see the README's Document mode).")
def pull_cmd(project: str, out: Path, mode: str) -> None:
    """Take an export snapshot of the project and write LABELS: the raw export (checksummed),
    annotations.parquet (one row per record and annotator), labels.parquet (one row per record:
    majority label, agreement, status) and labels.json (counts, Krippendorff's alpha, rejected
    labels with reasons). Skipped and cancelled annotations do not count. With --mode document:
    records.parquet, documents.parquet, gold.parquet and docmode.json instead."""
    from builder import labels, studio

    client = studio.connect()
    proj = studio.get_project(client, project)
    if mode == "document":
        _pull_documents(client, proj, project, out)
        return
    studio.require_record_project(client, proj, "a project made by `push --mode document` is pulled with "
                                                "--mode document")
    labels.check_out(out)
    click.echo(f"taking an export snapshot of {project!r} ({proj.task_number or 0} tasks)…", err=True)
    rep = _download_and_write(client, proj, project, out, labels.write)
    status = ", ".join(f"{k} {v}" for k, v in rep["label_status"].items())
    alpha = rep["krippendorff_alpha_nominal"]
    click.echo(f"pulled {rep['records']} records of {project!r} (snapshot {rep['snapshot_id']}): {status}; "
               f"alpha {'n/a' if alpha is None else f'{alpha:.3f}'}; {rep['annotations']['rejected']} rejected, "
               f"{rep['annotations']['skipped_or_cancelled']} skipped: {out}", err=True)


def _download_and_write(client, proj, project: str, out: Path, write: Callable[..., dict]) -> dict:
    """Take an export snapshot of the project into a file beside LABELS (streamed: a large project's
    export is never in memory) and have `write` (labels.write or docmode.write) judge it into
    LABELS, which moves the file in; a failure leaves no download behind."""
    from builder import studio

    out.parent.mkdir(parents=True, exist_ok=True)
    download = out.with_name(f".{out.name}.export-{os.getpid()}")
    try:
        with open(download, "wb") as f:
            snapshot_id = studio.export_snapshot_to(client, proj.id, f)
        return write(out, export_file=download, snapshot_id=snapshot_id, project=project, project_id=proj.id)
    finally:
        download.unlink(missing_ok=True)


def _pull_documents(client, proj, project: str, out: Path) -> None:
    from builder import docmode, studio

    docmode.require_document_project(studio.project_label_config(client, proj.id), project)
    docmode.check_out(out)  # before the export: a snapshot takes a while
    rep = _download_and_write(client, proj, project, out, docmode.write)
    status = ", ".join(f"{k} {v}" for k, v in rep["status"].items())
    f1 = rep["agreement"]["span_f1_exact"]
    click.echo(f"pulled {rep['documents']} documents of {project!r} (snapshot {rep['snapshot_id']}): {status}; "
               f"{rep['gold_records']} gold records; span F1 exact {'n/a' if f1 is None else f'{f1:.3f}'}; "
               f"{rep['annotations']['impossible']} impossible annotations, {rep['regions']['repaired']} regions "
               f"repaired, {rep['regions']['left_out']} left out: {out}", err=True)


# --- end of Labeling in Label Studio ----------------------------------------------------------------


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
@click.option("--documents", "documents_dir", type=click.Path(path_type=Path), default=None,
              help="Document-mode LABELS directory written by `builder pull --mode document`: its human-gold "
                   "documents are published with the annotators' records (origin \"human\") instead of the "
                   "segmenter's.")
def publish_cmd(records: Path, labels_dir: Path | None, name: str, version: str, out: Path, ratios: str,
                documents_dir: Path | None) -> None:
    """Publish RECORDS (a records Parquet file or a directory of shards from any engine) as the
    immutable release RELEASES/NAME/X.Y.Z: zstd Parquet splits grouped by document (near-duplicates
    kept in one split), dataset card, manifest with checksums, Croissant metadata, changelog and
    chart. Written to a temporary directory and renamed into place only when complete; the same
    inputs give byte-identical files."""
    if documents_dir is not None:
        import tempfile

        from builder import docmode

        with tempfile.TemporaryDirectory(prefix="builder-docmode-") as tmp:
            merged = Path(tmp) / "records"
            counts = docmode.merge_gold(records, documents_dir, merged)
            click.echo(f"document mode: {counts['human_documents']} human-gold documents publish {counts['human_records']} "
                       f"human records in place of {counts['segmenter_records_replaced']} segmenter records; "
                       f"{counts['segmenter_records']} segmenter records elsewhere", err=True)
            _publish(merged, labels_dir, name, version, out, ratios, segmenter_records=records)
        return
    _publish(records, labels_dir, name, version, out, ratios)


def _publish(records: Path, labels_dir: Path | None, name: str, version: str, out: Path, ratios: str,
             segmenter_records: Path | None = None) -> None:
    from builder import release

    staged = release.stage(records, labels_dir, name=name, version=version, out=out,
                           ratios=release.parse_ratios(ratios), progress=sys.stderr.isatty())
    dedup, docs = staged.stats["dedup"], staged.stats["documents"]
    if docs >= 100 and dedup["largest_cluster"] > 0.05 * docs:
        click.echo(f"warning: {dedup['largest_cluster']} of {docs} documents are joined into one group by "
                   "near-duplicate records and share one split; see the card's near-duplicate table", err=True)
    try:
        from builder.evaluate import benchmark_table  # the official evaluator scores the baselines before sealing

        # the card names the release as its own "Load it" section does, not by this machine's --out path:
        # the same inputs published anywhere give the same bytes
        table = benchmark_table(staged.path, release_ref=f"path/to/{name}/{version}")
        if labels_dir is not None:
            from builder.evaluate import TASKS

            unscored = [t for t in TASKS if not any(r["task"] == t for r in table)]
            if unscored:
                click.echo(f"note: the card has no benchmark row for task {', '.join(unscored)}: the test split holds "
                           f"no human label for it (agreed or single), or train none to fit the baselines", err=True)
        if segmenter_records is not None:  # document mode: the segmenter scored against people's segmentation
            from builder.evaluate_segmentation import benchmark_rows

            rows = benchmark_rows(staged.path, segmenter_records, release_ref=f"path/to/{name}/{version}")
            if not rows:
                click.echo("note: the test split holds no human-gold document, so the card has no segmentation "
                           "row (label more pages in document mode)", err=True)
            table = table + rows
        path = release.seal(staged, table)
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


# --- Evaluating (builder/evaluate.py, builder/baselines.py) --------------------------------------


@cli.command("evaluate")
@click.argument("predictions", type=click.Path(path_type=Path))
@click.option("--release", "release_dir", required=True, type=click.Path(path_type=Path),
              help="The release the predictions answer: RELEASES/NAME/X.Y.Z.")
@click.option("--task", type=click.Choice(["type", "spam", "segmentation"]), default="type", show_default=True,
              help="type: a record's type (macro-F1). spam: spam or not over comments, replies and spam (F1 of spam). "
                   "segmentation: records per document (doc_id, char_start, char_end, type, parent) against the "
                   "human-gold documents of document mode (macro span F1, exact); a `builder segment` output is "
                   "such a file.")
@click.option("--split", default="test", show_default=True, help="The split the predictions are for.")
@click.option("--gold", type=click.Choice(["human", "silver"]), default="human", show_default=True,
              help="human: the aggregated human labels (agreed or single). silver: the segmenter's own type, for a "
                   "release without human labels; every output then says so.")
@click.option("--allow-missing", is_flag=True,
              help="Count records without a prediction as wrong instead of refusing the file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
def evaluate_cmd(predictions: Path, release_dir: Path, task: str, split: str, gold: str, allow_missing: bool,
                 as_json: bool) -> None:
    """Score PREDICTIONS (.csv, .jsonl or .parquet with the columns record_id and prediction: a label
    name or its class index) with the official evaluator: accuracy, macro- and micro-F1, per-class
    figures, confusion matrix, the official metric with a 95% bootstrap interval over documents, and
    the metric per source domain with the worst one. Unknown, duplicate or other-split ids, labels
    that are not classes, missing records and another release's fingerprint are refused."""
    import json

    if task == "segmentation":
        from builder import evaluate_segmentation
        from builder.errors import InputError

        if gold != "human":
            raise InputError("--task segmentation is scored against human-gold documents only; drop --gold silver")
        result = evaluate_segmentation.evaluate(predictions, release_dir, split=split, allow_missing=allow_missing)
        click.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json
                   else evaluate_segmentation.format_report(result))
        return
    from builder import evaluate

    result = evaluate.evaluate(predictions, release_dir, task=task, split=split, gold=gold,
                               allow_missing=allow_missing)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else evaluate.format_report(result))


@cli.command("baseline")
@click.argument("name", type=click.Choice(["majority", "segmenter", "tfidf"]))
@click.option("--release", "release_dir", required=True, type=click.Path(path_type=Path),
              help="The release: RELEASES/NAME/X.Y.Z (fit on train, C chosen on validation).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Prediction file to write: .csv, .jsonl or .parquet, the format `builder evaluate` reads.")
@click.option("--task", type=click.Choice(["type", "spam"]), default="type", show_default=True, help="The task.")
@click.option("--split", default="test", show_default=True, help="The split to predict.")
@click.option("--gold", type=click.Choice(["human", "silver"]), default="human", show_default=True,
              help="What majority and tfidf learn from: human labels, or the segmenter's types (silver).")
def baseline_cmd(name: str, release_dir: Path, out: Path, task: str, split: str, gold: str) -> None:
    """Write the predictions of baseline NAME for every record of a split: majority (the most frequent
    gold class of train), segmenter (the segmenter's own type), tfidf (TF-IDF word and character
    n-grams + logistic regression, fit on train, C chosen on validation, fixed seed)."""
    from builder import baselines

    n = baselines.run_baseline(name, release_dir, out, task=task, split=split, gold=gold)
    click.echo(f"wrote {n} predictions of baseline {name} for task {task}, split {split}: {out}", err=True)


def main() -> None:
    cli(prog_name="builder")
