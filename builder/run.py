"""The local engine: ingest → segmenter → Parquet, streamed, over a pool of worker processes.

How the segmenter runs lives here, apart from what it does (builder.segment is a pure function of
one document), so another engine (Ray, a notebook) can run the same function.

The stream is cut into batches whose bounds depend only on the input (so many documents, so many
characters). Batches go to the workers with a bounded number in flight and come back in input
order, so memory stays flat however large the corpus, and `--workers 2` writes byte-identical
files to `--workers 1`. The workers load only the segmenter (builder.worker: no pyarrow, ~50 MB
each rather than ~150) and hand back their records as plain columns; this process turns them into
Arrow and writes row groups of a fixed size as they fill. The default segmenter runs in steps, each
over the whole batch (builder.staged: the same records, ~10% less CPU).

A document on which the segmenter raises, or whose records do not fit the schema, is
quarantined with the reason and the run goes on. Everything is written under temporary names
next to the targets and renamed into place at the end: a failed or interrupted run leaves the
previous output (if any) as it was.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, compress, islice, repeat
from operator import is_not
from pathlib import Path
from types import NoneType

# pyarrow.compute, multiprocessing and concurrent.futures are not imported here: a --workers 1 run needs none of
# them (~40 ms of CPU at every start), so the pool's modules load where the pool starts, and text lengths and type
# counts are read from the columns' buffers by numpy
import numpy as np  # declared in pyproject.toml (datasets needs it too)
import pyarrow as pa
import pyarrow.parquet as pq

from builder.document import Document
from builder.errors import BuilderError, InputError
from builder.ingest import Fields, Ingested, ReadMeter, Rejected, read_documents
from builder.schema import FIELDS, SCHEMA, SCHEMA_VERSION, TYPE_NAMES, arrow_fields, arrow_schema
from builder import staged
from builder.worker import (DOC_TIMEOUT, INVALID_RECORDS, Columns, Segmented, Spec, ignore_sigint, main_thread,
                            one_line, records_to_columns, segment_columns)

BATCH_DOCS = 128  # documents per batch sent to a worker...
BATCH_CHARS = 2_000_000  # ...or fewer, once they add up to this much text
IN_FLIGHT_PER_WORKER = 3  # batches queued or running per worker: enough to keep it busy, no more
ROW_GROUP_ROWS = 16_384  # ~10 MB of records: the writer buffers one; 65,536 cost ~50 MB more peak memory
ROW_GROUP_TEXT = 16_000_000  # ...and at most about this many bytes of text, whatever the rows' size
SHARD_ROWS = 1_000_000  # default rows per shard of a directory output
COMPRESSION = "zstd"
SHARD_NAME = "part-{:05d}.parquet"


_NOT_NULL = tuple(name for name, prop in SCHEMA["properties"].items()
                  if not (isinstance(prop.get("type"), list) and "null" in prop["type"]))


def default_workers() -> int:
    """The cores this process may run on (the affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


# --------------------------------------------------------------------------- records → Arrow


@cache
def spec() -> Spec:
    """What builder.worker checks records against, from the schema (which workers do not import)."""
    return Spec(FIELDS, TYPE_NAMES, _NOT_NULL)


@cache
def storage_schema() -> pa.Schema:
    """builder.schema.arrow_schema() with every column nullable: the schema of the files written.
    datasets keeps a column's features from the metadata only when the stored field equals the one
    the features imply, nullability included, and Features know no "not null": with non-nullable
    columns `type` would load as a plain int64 instead of a ClassLabel. Non-null columns are
    enforced before writing instead (builder.worker checks them)."""
    return pa.schema(_columns(), metadata=_features_metadata())


def _features_metadata() -> dict[bytes, bytes]:
    """The `huggingface` metadata that datasets.Features.arrow_schema writes (so arrow_schema()'s),
    spelled out from the JSON Schema so that the writing process need not import datasets (~80 MB
    and 1.4 s of a run's peak memory). test_schema checks the bytes are the same; a column type
    this does not know falls back to asking datasets."""
    feats = {}
    for name, prop in SCHEMA["properties"].items():
        kind = prop["x-arrow"]
        if kind == "class_label":
            feats[name] = {"names": [n for n in prop["enum"] if n is not None], "_type": "ClassLabel"}
        elif kind in ("string", "int32", "int64", "float32", "float64", "bool"):
            feats[name] = {"dtype": kind, "_type": "Value"}
        else:
            return arrow_schema().metadata
    return {b"huggingface": json.dumps({"info": {"features": feats}}).encode()}


@cache
def _columns() -> pa.Schema:
    """The stored columns without the metadata: what workers build tables with. Deriving the
    metadata imports datasets (a second and ~80 MB per process), which only the writer needs."""
    return pa.schema([f.with_nullable(True) for f in arrow_fields()])


def _arrow(columns: Columns) -> pa.Table:
    schema = _columns()
    return pa.Table.from_arrays([_array(c, f.type) for c, f in zip(columns, schema)], schema=schema)


def _array(values: list, arrow_type: pa.DataType) -> pa.Array:
    """pa.array(values, type=arrow_type), without pandas. pa.array asks of every list whether it is a
    pandas object, and the first time, that imports pandas: ~0.27 s of CPU and ~50 MB in a process
    that never uses it. So a column whose values all have the exact Python type of its Arrow type
    (str or None; int; float) is laid into Arrow's buffers by C loops (map, numpy, which pyarrow has
    loaded already); any other value (a segmenter's bad one) goes to pa.array, which converts it or
    raises its own error, as before. test_run_arrays holds both ways to the same arrays."""
    layout = _LAYOUT.get(arrow_type.id)
    try:
        made = layout and layout(values, arrow_type)
    except (OverflowError, UnicodeEncodeError):  # an int past int64, a lone surrogate: pa.array says which
        made = None
    return pa.array(values, type=arrow_type) if made is None else made


def _strings(values: list, arrow_type: pa.DataType) -> pa.Array | None:
    kinds = set(map(type, values))
    if not kinds <= {str, NoneType}:
        return None
    n = len(values)
    valid = None
    if NoneType in kinds:
        valid = np.fromiter(map(is_not, values, repeat(None)), dtype=np.bool_, count=n)
        values = list(compress(values, valid.tolist()))
    # the bytes of all values, strict UTF-8 as Arrow stores strings, and each value's size: a column
    # of one repeated value (the versions, origin, encoding of a batch) is that value's bytes repeated;
    # an ASCII column is encoded in one piece (each character one byte, so sizes are lengths); others
    # value by value
    m = len(values)
    if m and values.count(values[0]) == m:
        one = values[0].encode()
        body, sizes = one * m, np.full(m, len(one), dtype=np.int64)
    else:
        # str.isascii is a flag of each string, not a scan: a non-ASCII column (most text columns) is not
        # joined only to be told so (a copy of the column held while it is encoded, ~18% of its CPU)
        if all(map(str.isascii, values)):
            body, sizes = "".join(values).encode("ascii"), np.fromiter(map(len, values), dtype=np.int64, count=m)
        else:
            data = list(map(str.encode, values))
            body, sizes = b"".join(data), np.fromiter(map(len, data), dtype=np.int64, count=m)
    if valid is not None:  # a null takes no bytes
        sizes, present = np.zeros(n, dtype=np.int64), sizes
        sizes[valid] = present
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    if offsets[-1] >= 2**31:  # more text than one string array holds: pa.array knows what to do
        return None
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    buffers = [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(body)]
    return pa.Array.from_buffers(arrow_type, n, buffers, null_count=n - m)


def _numbers(values: list, arrow_type: pa.DataType) -> pa.Array | None:
    python, wide, narrow = _NUMBERS[arrow_type.id]
    if not set(map(type, values)) <= {python}:  # a bool is no int here, as for pa.array
        return None
    array = np.fromiter(values, dtype=wide, count=len(values))  # raises OverflowError past int64
    if python is int and len(array) and not (np.iinfo(narrow).min <= array.min() and array.max() <= np.iinfo(narrow).max):
        return None
    with np.errstate(over="ignore"):  # a float past float32's range becomes inf, as pa.array makes it
        return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(array.astype(narrow))])


# Arrow type id → (the Python type of its values, numpy's type to read them as, numpy's type as stored)
_NUMBERS = {pa.int32().id: (int, np.int64, np.int32), pa.int64().id: (int, np.int64, np.int64),
            pa.float32().id: (float, np.float64, np.float32), pa.float64().id: (float, np.float64, np.float64)}
_LAYOUT = {pa.string().id: _strings} | dict.fromkeys(_NUMBERS, _numbers)


def _to_table(records: list[dict]) -> pa.Table:
    """Checked records (dicts) as a table of the stored columns."""
    return _arrow(records_to_columns(records, spec()))


_ARROW_REFUSES = (pa.ArrowException, TypeError, ValueError, OverflowError)


def to_table(columns: Columns, failures: list[tuple[str, str] | None], counts: list[int]) -> pa.Table:
    """builder.worker.segment_columns's answer as one Arrow table. A document with a value Arrow
    refuses (a depth that is a string, an int too large) is found, marked in `failures` as
    invalid_records (its count set to 0) and left out; the rest are kept."""
    try:
        return _arrow(columns)
    except _ARROW_REFUSES:
        pass
    kept: list[pa.Table] = []
    start = 0
    for i, failure in enumerate(failures):
        if failure is not None:
            continue
        end = start + counts[i]
        try:
            kept.append(_arrow([c[start:end] for c in columns]))
        except _ARROW_REFUSES as e:
            failures[i] = (INVALID_RECORDS, f"the segmenter's records do not fit the schema: {one_line(e)}")
            counts[i] = 0
        start = end
    return pa.concat_tables(kept).combine_chunks() if kept else _arrow([[] for _ in columns])


def _text_lengths(column: pa.ChunkedArray) -> list[int]:
    """The UTF-8 byte length of each value of a string column without nulls (pyarrow.compute's
    binary_length), from the offsets of each chunk (a chunk may be a slice: its own offset counts)."""
    out: list[int] = []
    for chunk in column.chunks:
        if not len(chunk):
            continue  # an empty chunk may have no buffers
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=4 * chunk.offset)
        out += np.diff(offsets).tolist()
    return out


def _type_counts(column: pa.ChunkedArray) -> list[int]:
    """Rows per record type of the `type` column (int64 class indices, never null: builder.worker
    checks), from each chunk's data buffer."""
    counts = np.zeros(len(TYPE_NAMES), dtype=np.int64)
    for chunk in column.chunks:
        if not len(chunk):
            continue
        values = np.frombuffer(chunk.buffers()[1], dtype=np.int64, count=len(chunk), offset=8 * chunk.offset)
        counts += np.bincount(values, minlength=len(TYPE_NAMES))
    return counts.tolist()


def segment_batch(segment: Callable[[Document], list[dict]], docs: list[Document], timeout: float | None = DOC_TIMEOUT
                  ) -> tuple[pa.Table, list[tuple[str, str] | None], list[int]]:
    """Segment a batch here: (records of the documents that went through, as one Arrow table;
    per document, None or (kind, reason) why it did not; per document, its record count). The
    default segmenter in steps over the batch, as the local engine runs it (_batch_runner)."""
    run_batch, segment = _batch_runner(segment)
    columns, failures, counts = run_batch(segment, docs, spec(), timeout)
    return to_table(columns, failures, counts), failures, counts


# --------------------------------------------------------------------------- outputs


class _Target:
    """An output path written atomically: everything goes to a hidden temporary sibling, renamed
    into place by commit(); discard() removes it. Temporaries of runs that died (their process is
    gone) are cleaned up on the next run."""

    def __init__(self, path: Path, is_dir: bool) -> None:
        self.path = path
        self.is_dir = is_dir
        self.tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"

    def open(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clean_stale()
        self.discard()
        if self.is_dir:
            self.tmp.mkdir()
        return self.tmp

    def _clean_stale(self) -> None:
        for p in self.path.parent.glob(f".{glob.escape(self.path.name)}.*-*"):
            kind, _, pid = p.name.rpartition("-")
            if not kind.endswith((".tmp", ".old")) or not pid.isdigit() or _alive(int(pid)):
                continue
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)

    def commit(self) -> None:
        if self.is_dir and self.path.exists():
            # A directory cannot be renamed over a non-empty one: move the old aside first.
            old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
            os.rename(self.path, old)
            os.rename(self.tmp, self.path)
            shutil.rmtree(old)
        else:
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            if self.tmp.is_dir():
                shutil.rmtree(self.tmp)
            else:
                self.tmp.unlink()
        except OSError:  # never created (no folder, a name too long, ...); a leftover goes with the next run
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def output_paths(out: Path, quarantine: Path | None, report: Path | None) -> tuple[Path, Path]:
    """The quarantine and report paths: as given, or next to the output (`NAME.quarantine.jsonl`,
    `NAME.report.json` beside `NAME.parquet` or the directory `NAME`)."""
    base = out.parent / (out.name[: -len(".parquet")] if out.name.lower().endswith(".parquet") else out.name)
    return (quarantine or base.with_name(base.name + ".quarantine.jsonl"),
            report or base.with_name(base.name + ".report.json"))


def _check_outputs(out: Path, single: bool, quarantine: Path, report: Path, shard_rows: int | None) -> None:
    try:
        _check_output_paths(out, single, quarantine, report, shard_rows)
    except OSError as e:  # e.g. a name too long for the file system
        raise InputError(f"cannot use the output path {e.filename}: {e.strerror or e}") from None


def _check_output_paths(out: Path, single: bool, quarantine: Path, report: Path, shard_rows: int | None) -> None:
    if single and shard_rows is not None:
        raise InputError(f"--shard-rows applies to a directory output; {out} ends in .parquet and is written "
                         f"as one file (give a path without .parquet for shards)")
    if single and out.is_dir():
        raise InputError(f"{out} is a directory; a path ending in .parquet is written as one file "
                         f"(give a path without .parquet to write shards into a directory)")
    if not single and out.exists():
        if not out.is_dir():
            raise InputError(f"{out} exists and is not a directory; a path without .parquet is a directory "
                             f"of shards (give a path ending in .parquet to write one file)")
        foreign = sorted(p.name for p in out.iterdir() if not (p.name.startswith("part-") and p.suffix == ".parquet"))
        if foreign:
            raise InputError(f"{out} exists and holds files other than part-*.parquet shards ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); it is not replaced: choose another --out")
    paths = {"--out": out.resolve(), "--quarantine": quarantine.resolve(), "--report": report.resolve()}
    for name, p in paths.items():
        folder = next(a for a in p.parents if a.exists())
        if not folder.is_dir():
            raise InputError(f"{name} {p}: {folder} is a file, not a directory")
    for name, p in list(paths.items())[1:]:
        if p == paths["--out"] or (not single and paths["--out"] in p.parents):
            raise InputError(f"{name} {p} would be inside or replace the output {out}; put it elsewhere")
        if p.is_dir():
            raise InputError(f"{name} {p} is a directory; it must be a file path")
    if paths["--quarantine"] == paths["--report"]:
        raise InputError(f"--quarantine and --report are the same file ({quarantine}); give two paths")


class _ParquetSink:
    """Record tables → row groups of at most ROW_GROUP_ROWS rows and about ROW_GROUP_TEXT bytes of
    text (a corpus of long pages must not make the buffered group large), in one file or in
    shards of `shard_rows` rows. Bounds depend only on the rows' values, never on how batches
    arrived, so any number of workers writes the same bytes."""

    def __init__(self, tmp: Path, single: bool, shard_rows: int, row_group_rows: int = ROW_GROUP_ROWS,
                 row_group_text: int = ROW_GROUP_TEXT) -> None:
        self.tmp = tmp
        self.single = single
        self.shard_rows = shard_rows
        self.group_rows = row_group_rows
        self.group_text = row_group_text
        self.pending: list[pa.Table] = []
        self.lengths: list[int] = []  # text bytes of each pending row
        self.scanned = 0  # how many of them _cut has added up (since the last row group), and their sum:
        self.scanned_text = 0  # each row is looked at once, however many batches a row group takes
        self.writer: pq.ParquetWriter | None = None
        self.shard_written = 0
        self.shards: list[dict] = []

    def _open(self) -> None:
        name = SHARD_NAME.format(len(self.shards))
        path = self.tmp if self.single else self.tmp / name
        self.writer = pq.ParquetWriter(path, storage_schema(), compression=COMPRESSION)
        self.shards.append({"path": name, "rows": 0})
        self.shard_written = 0

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pending.append(table)
            self.lengths.extend(_text_lengths(table.column("text")))
            self._drain(final=False)

    def _cut(self, room: int, final: bool) -> int | None:
        """Rows in the next row group: up to `room`, fewer where the text reaches group_text;
        None while the pending rows reach neither bound (and more may come). `room` is the same
        from one call to the next until a row group is written (it changes only then)."""
        text, i = self.scanned_text, self.scanned
        for i, n in enumerate(islice(self.lengths, i, room), start=i):
            text += n
            if text >= self.group_text:
                return i + 1
        self.scanned, self.scanned_text = min(room, len(self.lengths)), text
        if len(self.lengths) >= room or final:
            return min(room, len(self.lengths))
        return None

    def _drain(self, final: bool) -> None:
        while self.lengths:
            room = self.group_rows if self.single else min(self.group_rows, self.shard_rows - self.shard_written)
            n = self._cut(room, final)
            if n is None:
                return
            if self.writer is None:
                self._open()
            table = pa.concat_tables(self.pending)
            self.writer.write_table(table.slice(0, n), row_group_size=n)
            rest = table.slice(n)
            self.pending = [rest] if rest.num_rows else []
            del self.lengths[:n]
            self.scanned = self.scanned_text = 0
            self.shard_written += n
            self.shards[-1]["rows"] += n
            if not self.single and self.shard_written >= self.shard_rows:
                self._close()
                self.shard_written = 0  # the next row group opens the next shard

    def finish(self) -> list[dict]:
        self._drain(final=True)
        if not self.shards:  # no records at all: still a readable, empty file with the schema
            self._open()
        self._close()
        return self.shards

    def abort(self) -> None:
        try:
            self._close()
        except Exception:  # closing a half-written file may fail; it is deleted anyway
            pass


# --------------------------------------------------------------------------- the run


@dataclass
class _Batch:
    rejected: list[Rejected] = field(default_factory=list)  # rejections that came before the docs
    docs: list[Document] = field(default_factory=list)
    where: list[tuple[str, str | None]] = field(default_factory=list)  # (source, location) per doc
    chars: int = 0


def _batches(items: Iterable[Ingested | Rejected]) -> Iterator[_Batch]:
    b = _Batch()
    for item in items:
        if isinstance(item, Rejected):
            b.rejected.append(item)
        else:
            b.docs.append(item.doc)
            b.where.append((item.source, item.location))
            b.chars += len(item.doc.text)
        if len(b.docs) >= BATCH_DOCS or b.chars >= BATCH_CHARS or len(b.rejected) >= BATCH_DOCS:
            yield b
            b = _Batch()
    if b.docs or b.rejected:
        yield b


def _run_in_order(segment, batches: Iterator[_Batch], workers: int, timeout: float | None = DOC_TIMEOUT
                  ) -> Iterator[tuple[_Batch, tuple]]:
    """(batch, builder.worker.segment_columns's answer) in input order; at most IN_FLIGHT_PER_WORKER × workers
    batches read ahead. Input of a single batch runs in this process: starting workers would
    cost more than it saves (the output is the same either way)."""
    run_batch, segment = _batch_runner(segment)
    head = list(islice(batches, 2))
    batches = chain(head, batches)
    if workers <= 1 or len(head) < 2:
        for b in batches:
            yield b, run_batch(segment, b.docs, spec(), timeout)
        return
    import multiprocessing
    from concurrent.futures import Executor, Future, ProcessPoolExecutor

    # spawn, not fork: the parent may hold threads (pyarrow, tqdm) that a fork would copy mid-lock;
    # and the workers are this process's own children, reaped at shutdown, so their CPU time and
    # memory show in its rusage.
    pool: Executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=ignore_sigint)
    window: deque[tuple[_Batch, Future]] = deque()
    try:
        for b in batches:
            window.append((b, pool.submit(run_batch, segment, b.docs, spec(), timeout)))
            if len(window) >= IN_FLIGHT_PER_WORKER * workers:
                done, fut = window.popleft()
                yield done, fut.result()
        while window:
            done, fut = window.popleft()
            yield done, fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _batch_runner(segment: Callable[[Document], list[dict]]) -> tuple[Callable[..., Segmented], Callable]:
    """What segments a batch, and the segmenter it is given: the default segmenter in steps, each step
    over the whole batch (builder.staged: same records and failures, ~10% less CPU), any other one
    document by document (builder.worker)."""
    default = sys.modules.get("builder.segment")  # loaded when it is the one given: no import for another
    if default is not None and segment is getattr(default, "segment", None):
        return staged.segment_columns, default.segment_steps
    return segment_columns, segment


MAX_DOC_TIMEOUT = 1e9  # setitimer takes up to ~9.2e9 s; past it (and for inf or nan) every document would fail


def check_doc_timeout(doc_timeout: float | None) -> None:
    """--doc-timeout as the CPU-time limit can take it, or InputError (for either engine)."""
    if doc_timeout is not None and not 0 <= doc_timeout <= MAX_DOC_TIMEOUT:
        raise InputError(f"--doc-timeout {doc_timeout:g}: must be 0 (no limit) or a number of seconds up to "
                         f"{MAX_DOC_TIMEOUT:g}")


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def segment_corpus(inputs: Iterable[os.PathLike | str], out: os.PathLike | str, *, workers: int | None = None,
                   quarantine: os.PathLike | str | None = None, report: os.PathLike | str | None = None,
                   shard_rows: int | None = None, fields: Fields = Fields(), progress: bool = False,
                   segment: Callable[[Document], list[dict]] | None = None,
                   doc_timeout: float | None = DOC_TIMEOUT) -> dict:
    """Segment every document of `inputs` into records written to `out` (a .parquet file, or a
    directory of shards); write the quarantine (JSONL) and the run report (JSON); return the
    report. Raises InputError for a problem with the run itself before anything is written.
    An existing output of the same kind is replaced (atomically) when the run succeeds."""
    inputs = [Path(p) for p in inputs]
    out = Path(out)
    single = out.name.lower().endswith(".parquet")
    quarantine_path, report_path = output_paths(out, Path(quarantine) if quarantine else None,
                                                Path(report) if report else None)
    _check_outputs(out, single, quarantine_path, report_path, shard_rows)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise InputError(f"--workers {workers}: must be 1 or more")
    check_doc_timeout(doc_timeout)
    # Never read the run's own outputs (nor earlier ones) as input.
    meter = ReadMeter() if progress else None
    items = read_documents(inputs, fields, exclude=[out, quarantine_path, report_path], meter=meter)
    if segment is None:
        from builder.segment import SEGMENTER_VERSION, segment  # noqa: F811 - the default segmenter
    else:
        SEGMENTER_VERSION = getattr(sys.modules.get(segment.__module__), "SEGMENTER_VERSION", None)

    targets = {"out": _Target(out, is_dir=not single), "quarantine": _Target(quarantine_path, False),
               "report": _Target(report_path, False)}
    old_term = signal.signal(signal.SIGTERM, _sigterm) if main_thread() else None
    sink = None
    try:
        tmp_out = targets["out"].open()
        sink = _ParquetSink(tmp_out, single, shard_rows or SHARD_ROWS)
        with open(targets["quarantine"].open(), "w", encoding="utf-8") as qf:
            tally = Tally(qf)
            bar = _progress(meter)
            for b, (columns, failures, counts) in _run_in_order(segment, _batches(items), workers, doc_timeout):
                table = to_table(columns, failures, counts)
                tally.batch(b, failures, counts)
                if table.num_rows:
                    for t, c in enumerate(_type_counts(table.column("type"))):
                        tally.per_type[t] += c
                sink.add(table)
                if bar is not None:
                    # input bytes read (ahead of the results by the batches in flight), documents done
                    bar.set_postfix_str(f"{tally.stats['read']:,} docs", refresh=False)
                    bar.update(meter.done() - bar.n)
            if bar is not None:
                bar.update(meter.total - bar.n)
                bar.close()
        shards = sink.finish()
        sink = None
        return finish(targets, tally, inputs=inputs, out=out, shards=shards if not single else None,
                      quarantine=quarantine_path, segmenter_version=SEGMENTER_VERSION)
    except OSError as e:  # the inputs' own errors were quarantined: this is writing (permissions, disk full)
        raise write_error(e) from None
    finally:
        if sink is not None:
            sink.abort()
        for t in targets.values():
            t.discard()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


class Tally:
    """What a run of any engine counts, and its quarantine file: documents read, segmented and
    quarantined (with the reasons), encodings, records per type. Batches are given in input order,
    so both engines write the same quarantine lines in the same order."""

    def __init__(self, quarantine_file) -> None:
        self.file = quarantine_file
        self.stats = {"read": 0, "segmented": 0, "quarantined": 0, "without_records": 0}
        self.reasons: Counter[str] = Counter()
        self.encodings: Counter[str] = Counter()
        self.per_type = [0] * len(TYPE_NAMES)

    def reject(self, r: Rejected) -> None:
        self.stats["read"] += 1
        self.stats["quarantined"] += 1
        self.reasons[r.kind] += 1
        entry = r.as_json()
        try:
            self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        except UnicodeEncodeError:  # a lone surrogate (an id given as a JSON \\ud800 escape): written escaped
            self.file.write(json.dumps(entry) + "\n")

    def batch(self, b: _Batch, failures: Iterable, counts: Iterable[int]) -> None:
        """A batch's rejections, then its documents: each segmented (with its number of records) or
        failed (segmenter_error, segmenter_timeout, invalid_records: quarantined)."""
        for r in b.rejected:
            self.reject(r)
        for doc, (source, location), failure, n in zip(b.docs, b.where, failures, counts, strict=True):
            self.encodings[doc.encoding] += 1
            if failure is not None:
                self.reject(Rejected(source, failure[0], failure[1], doc.doc_id, location))
                continue
            self.stats["read"] += 1
            self.stats["segmented"] += 1
            self.stats["without_records"] += n == 0


def finish(targets: dict[str, _Target], tally: Tally, *, inputs: list[Path], out: Path, shards: list[dict] | None,
           quarantine: Path, segmenter_version: str | None) -> dict:
    """The end of a run of any engine: the report written, then every target renamed into place
    (the report last: its presence says the run completed). Returns the report."""
    stats, reasons, encodings, per_type = tally.stats, tally.reasons, tally.encodings, tally.per_type
    result = {
        "inputs": [str(p) for p in inputs],
        "output": str(out),
        "shards": shards,
        "quarantine": str(quarantine),
        "documents": dict(stats),
        "quarantined": {k: reasons[k] for k in sorted(reasons)},
        "records": {"total": sum(per_type), **{name: per_type[i] for i, name in enumerate(TYPE_NAMES)}},
        "encodings": {k: encodings[k] for k in sorted(encodings)},
        "segmenter_version": segmenter_version,
        "schema_version": SCHEMA_VERSION,
    }
    if stats["read"] != stats["segmented"] + stats["quarantined"] or (
            shards is not None and result["records"]["total"] != sum(s["rows"] for s in shards)):
        raise BuilderError(f"internal error: the run's counts do not add up ({result['documents']}, "
                           f"{result['records']['total']} records); nothing was written")
    with open(targets["report"].open(), "w", encoding="utf-8") as rf:
        json.dump(result, rf, indent=2, ensure_ascii=False)
        rf.write("\n")
    for t in (targets["out"], targets["quarantine"], targets["report"]):
        t.commit()
    return result


def write_error(e: OSError) -> BuilderError:
    """An OSError while writing the outputs (permissions, disk full, a name too long) as one line."""
    where = f"{e.filename}: " if e.filename else ""
    return BuilderError(f"cannot write the output: {where}{e.strerror or e}; nothing was written")


def _bincount(values) -> list[int]:
    import numpy as np

    return [int(c) for c in np.bincount(values, minlength=len(TYPE_NAMES))]


def _progress(meter: ReadMeter | None):
    """A bar over the input's bytes (its size is known up front, unlike its number of documents)."""
    if meter is None:
        return None
    from tqdm import tqdm

    return tqdm(total=meter.total, unit="B", unit_scale=True, unit_divisor=1024, desc="segment", file=sys.stderr,
                dynamic_ncols=True)
