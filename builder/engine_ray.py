"""The Ray engine: the same pure segmenter as the local engine (builder.run), over Ray Data, so a
corpus can be segmented by the cores of a whole cluster. The only module that imports ray.

What runs where:
  driver   ingest (builder.ingest: the same readers, encodings, rejections and duplicate-id check
           as the local engine, in input order), cutting the stream into the local engine's
           batches, and the bookkeeping: quarantine, run report, the atomic rename at the end
  workers  segment (builder.run.segment_batch: the same per-document failure handling), the Arrow
           conversion, and writing one Parquet shard per unit of work

Units of work are runs of consecutive batches holding about SHARD_CHARS of text; their bounds, and
so the shards' names and contents, depend only on the input, never on scheduling: a rerun writes
the same files, and reading the shards in name order gives the local engine's rows in its order.
A worker writes its own shard (rather than Dataset.write_parquet, which names files by task and
fills them in arrival order) and hands back a one-row summary — rows written, per document the
record count or why it failed — so the quarantine and the report are built in the same single
pass, exactly as the local engine builds them.

The driver cuts the units into windows — WINDOW_CHARS of text, or UNITS_PER_CPU units per cluster
CPU when that is more — and runs one Ray Data execution per window while a background thread reads
the next one: memory stays bounded (about three windows) however large the corpus, at the cost of
a short idle tail at the end of each window.

Shards are written into a temporary directory next to --out and renamed into place when every
document is accounted for: on a cluster, --out must be on storage that the driver and every node
see (the run checks that it sees every shard).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from builder.document import Document
from builder.errors import BuilderError, InputError

try:
    import ray
    import ray.data
except ModuleNotFoundError as e:
    if e.name != "ray" and not (e.name or "").startswith("ray."):
        raise
    raise InputError("--engine ray needs Ray, which is not installed here: install the extra: "
                     "pip install '.[ray]' (or use --engine local)") from None
from builder.ingest import Fields, read_documents
from builder.run import (COMPRESSION, DOC_TIMEOUT, ROW_GROUP_ROWS, SHARD_NAME, _Batch, _batches, _bincount,
                         _check_outputs, _Target, Tally, check_doc_timeout, default_workers, finish, output_paths,
                         segment_batch, storage_schema, write_error)
from builder.schema import TYPE_NAMES
from builder.worker import main_thread

SHARD_CHARS = 8_000_000  # text per unit of work (one task, one shard): seconds of one core, ~15k records
WINDOW_CHARS = 128_000_000  # text the driver reads ahead and hands to Ray in one execution...
UNITS_PER_CPU = 4  # ...or more on a large cluster: enough units that no CPU idles until the last few
PROBE_SECONDS = 10  # for a HOST:PORT address to accept a connection


class ClusterError(BuilderError):
    """The Ray cluster cannot be reached, or its workers cannot run this run."""


# --------------------------------------------------------------------------- units of work


@dataclass
class _Unit:
    index: int
    batches: list[_Batch] = field(default_factory=list)
    docs: int = 0
    chars: int = 0
    blob: bytes | None = None  # the documents, pickled by pack()

    def pack(self) -> None:
        """Pickle the documents for Ray and keep only what the bookkeeping needs (ids, encodings,
        where they came from): the text then lives once, in the pickle. The documents travel
        pickled, as they are: any text Python holds (even one Arrow would refuse, such as a lone
        surrogate from a JSON escape) reaches the segmenter, where the local engine meets it too."""
        self.blob = pickle.dumps([d for b in self.batches for d in b.docs], protocol=5)
        for b in self.batches:
            b.docs = [replace(d, text="") for d in b.docs]

    def payload(self) -> dict:
        """The unit as one Ray Data row."""
        return {"unit": self.index, "docs": self.blob}


def _units(batches: Iterable[_Batch], shard_chars: int) -> Iterator[_Unit]:
    """Consecutive batches grouped into units of about `shard_chars` of text. A batch with no
    documents (only rejections) stays in its place, so the quarantine keeps the input order."""
    unit = _Unit(0)
    for b in batches:
        unit.batches.append(b)
        unit.docs += len(b.docs)
        unit.chars += b.chars
        if unit.chars >= shard_chars:
            yield unit
            unit = _Unit(unit.index + 1)
    if unit.batches:
        yield unit


def _windows(units: Iterable[_Unit], window_chars: int) -> Iterator[list[_Unit]]:
    window: list[_Unit] = []
    chars = 0
    for u in units:
        window.append(u)
        chars += u.chars
        if chars >= window_chars:
            yield window
            window, chars = [], 0
    if window:
        yield window


# --------------------------------------------------------------------------- worker side


def _segment_units(table: pa.Table, out_dir: str, schema: pa.Schema,
                   segment: Callable[[Document], list[dict]] | None, timeout: float | None) -> pa.Table:
    """Ray Data UDF: each row is a unit; segment its documents, write its shard (with the local
    engine's file schema, `schema`, made on the driver: deriving its datasets metadata here would
    import datasets into every worker), return a summary."""
    if segment is None:
        from builder.segment import segment
    version = _segmenter_version(segment)
    summary: dict[str, list] = {"unit": [], "rows": [], "counts": [], "failures": [], "per_type": [],
                                "shard": [], "segmenter_version": []}
    for row in table.to_pylist():
        docs: list[Document] = pickle.loads(row["docs"])
        records, failures, counts = segment_batch(segment, docs, timeout)  # Ray runs UDFs in the main thread
        name = None
        if records.num_rows:
            name = SHARD_NAME.format(row["unit"])
            path = os.path.join(out_dir, name)
            with pq.ParquetWriter(path + ".partial", schema, compression=COMPRESSION) as writer:
                writer.write_table(records, row_group_size=ROW_GROUP_ROWS)
            os.replace(path + ".partial", path)  # a retried task never leaves half a shard under the real name
        summary["unit"].append(row["unit"])
        summary["rows"].append(records.num_rows)
        summary["counts"].append(counts)
        summary["failures"].append(json.dumps(failures, ensure_ascii=False))
        summary["per_type"].append(_bincount(records.column("type").to_numpy()) if records.num_rows
                                   else [0] * len(TYPE_NAMES))
        summary["shard"].append(name)
        summary["segmenter_version"].append(version)
    return pa.table(summary)


def _segmenter_version(segment) -> str | None:
    return getattr(sys.modules.get(segment.__module__), "SEGMENTER_VERSION", None)


# --------------------------------------------------------------------------- the cluster


def connect(address: str | None = None, workers: int | None = None) -> bool:
    """Attach to Ray: the running instance if this process already has one; else the cluster at
    `address` (or $RAY_ADDRESS); else a private local instance with `workers` CPUs (default: all
    cores), no dashboard, no usage reporting. True when this call started or joined it (and so the
    caller shuts it down)."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = address or os.environ.get("RAY_ADDRESS") or None
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    where = f"the Ray cluster at {target!r}" if target else "a local Ray instance"
    try:
        if target:
            _probe(target)
            ray.init(address=target, **quiet)
        else:
            # "local", not None: never attach by accident to a cluster `ray start` left on this machine
            ray.init(address="local", num_cpus=workers or default_workers(), include_dashboard=False, **quiet)
    except (ConnectionError, TimeoutError, OSError, ValueError, RuntimeError) as e:
        raise ClusterError(f"cannot start or reach {where}: {' '.join(str(e).split())}; give the address of a "
                           f"running cluster's head with --ray-address or RAY_ADDRESS (e.g. 'auto', 'HEAD:6379' "
                           f"or 'ray://HEAD:10001'), or neither for a local instance") from None
    return True


def _probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """A HOST:PORT (or ray://HOST:PORT) address must accept a TCP connection: Ray itself retries
    an unreachable head for ever instead of failing."""
    hostport = address.removeprefix("ray://").split("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # 'auto', 'local' and the like: Ray resolves them and fails fast
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {hostport} ({e.strerror or e})") from None


def _quiet_data(progress: bool) -> None:
    """Ray Data's progress bars on a terminal (--progress), its execution logs never: the CLI's
    own stderr carries one line per run."""
    ctx = ray.data.DataContext.get_current()
    ctx.print_on_execution_start = False
    if progress:
        ctx.enable_progress_bars = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _cluster_cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 1))


def _run_window(window: list[_Unit], tmp_out: Path, segment, workers: int | None, timeout: float | None
                ) -> dict[int, dict]:
    """Segment a window's units on the cluster; unit index → summary."""
    payload = [u.payload() for u in window if u.docs]
    if not payload:
        return {}
    ds = ray.data.from_items(payload, override_num_blocks=len(payload))
    for u in window:
        u.blob = None  # in Ray's object store now
    ds = ds.map_batches(_segment_units, batch_size=1, batch_format="pyarrow", zero_copy_batch=True,
                        fn_kwargs={"out_dir": str(tmp_out.resolve()), "schema": storage_schema(), "segment": segment,
                                   "timeout": timeout},
                        compute=ray.data.TaskPoolStrategy(size=min(workers, len(payload)) if workers else None),
                        num_cpus=1)
    return {row["unit"]: row for row in ds.take_all()}


def _read_ahead(windows: Iterator[list[_Unit]]) -> Iterator[list[_Unit]]:
    """The windows, read and packed by a background thread one window ahead, so the driver reads
    while the cluster segments. Ray stays in the calling (main) thread, where Ctrl-C and SIGTERM
    land and stop it cleanly; the reader is a daemon that stops when the consumer does."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for window in windows:
                for unit in window:
                    unit.pack()
                if not put(window):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer, raised there
            put(e)

    threading.Thread(target=produce, name="builder-ray-reader", daemon=True).start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


_END = object()


# --------------------------------------------------------------------------- the run


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def segment_corpus(inputs: Iterable[os.PathLike | str], out: os.PathLike | str, *, address: str | None = None,
                   workers: int | None = None, quarantine: os.PathLike | str | None = None,
                   report: os.PathLike | str | None = None, fields: Fields = Fields(), progress: bool = False,
                   segment: Callable[[Document], list[dict]] | None = None, shard_rows: int | None = None,
                   doc_timeout: float | None = DOC_TIMEOUT, shard_chars: int = SHARD_CHARS,
                   window_chars: int = WINDOW_CHARS) -> dict:
    """builder.run.segment_corpus on Ray: the same inputs, quarantine and report (same counts, same
    reasons, same order), records as a directory of shards `out` (same rows; shard bounds differ).
    `workers` caps the tasks running at once (and sizes a local instance); `doc_timeout` is the
    local engine's limit of CPU seconds per document, applied on the workers. Raises InputError for a
    problem with the run itself before anything is written; ClusterError when Ray cannot run it."""
    inputs = [Path(p) for p in inputs]
    out = Path(out)
    if out.name.endswith(".parquet"):
        raise InputError(f"--out {out}: the ray engine writes a directory of part-NNNNN.parquet shards (one per unit "
                         f"of work); give a path without .parquet, or use --engine local for one file")
    if shard_rows is not None:
        raise InputError(f"--shard-rows {shard_rows}: applies to --engine local; the ray engine writes one shard per "
                         f"unit of work (about {shard_chars // 1_000_000} MB of text), so that shards do not depend "
                         f"on scheduling")
    quarantine_path, report_path = output_paths(out, Path(quarantine) if quarantine else None,
                                                Path(report) if report else None)
    _check_outputs(out, False, quarantine_path, report_path, None)
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: must be 1 or more")
    check_doc_timeout(doc_timeout)
    if segment is None:
        from builder.segment import segment  # noqa: F811 - the default segmenter
    version = _segmenter_version(segment)

    # Fail on a missing path or a table without its columns before starting anything.
    items = read_documents(inputs, fields, exclude=[out, quarantine_path, report_path])

    targets = {"out": _Target(out, is_dir=True), "quarantine": _Target(quarantine_path, False),
               "report": _Target(report_path, False)}
    shards: list[dict] = []

    started = connect(address, workers)
    old_term = signal.signal(signal.SIGTERM, _sigterm) if main_thread() else None
    try:
        _quiet_data(progress)
        tmp_out = targets["out"].open()
        with open(targets["quarantine"].open(), "w", encoding="utf-8") as qf:
            tally = Tally(qf)
            window_chars = max(window_chars, UNITS_PER_CPU * _cluster_cpus() * shard_chars)
            windows = _windows(_units(_batches(items), shard_chars), window_chars)
            for window in _read_ahead(windows):
                done = _run_window(window, tmp_out, segment, workers, doc_timeout)
                for unit in window:
                    if not unit.docs:
                        for b in unit.batches:
                            tally.batch(b, [], [])
                        continue
                    s = done[unit.index]
                    if s["segmenter_version"] != version:
                        raise ClusterError(f"the Ray workers run segmenter {s['segmenter_version']}, this machine "
                                           f"{version}: install the same builder on every node of the cluster")
                    failures = iter(json.loads(s["failures"]))
                    counts = iter(s["counts"])
                    for b in unit.batches:  # the local engine's order: a batch's rejections, then its documents
                        tally.batch(b, islice(failures, len(b.docs)), islice(counts, len(b.docs)))
                    for t, c in enumerate(s["per_type"]):
                        tally.per_type[t] += c
                    if s["shard"] is not None:
                        if not (tmp_out / s["shard"]).is_file():
                            raise ClusterError(f"a Ray worker wrote {s['shard']} where this machine does not see it "
                                               f"({tmp_out}): on a cluster, --out must be on storage every node "
                                               f"shares")
                        shards.append({"path": s["shard"], "rows": s["rows"]})
        if not shards:  # no records at all: still a readable, empty shard with the schema
            pq.write_table(storage_schema().empty_table(), tmp_out / SHARD_NAME.format(0), compression=COMPRESSION)
            shards.append({"path": SHARD_NAME.format(0), "rows": 0})
        return finish(targets, tally, inputs=inputs, out=out, shards=shards, quarantine=quarantine_path,
                      segmenter_version=version)
    except OSError as e:  # as the local engine: writing on this machine failed (permissions, disk full)
        raise write_error(e) from None
    finally:
        for t in targets.values():
            t.discard()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        if started:
            ray.shutdown()
