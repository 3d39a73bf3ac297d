"""The worker side of the engines: the segmenter over a batch of documents, its records handed back
as compact columns.

This module imports only the standard library and, through the segment function it is given, the
segmenter: a worker process of the local engine loads nothing else — not pyarrow (and the pandas
that pyarrow's conversions pull in) — so it weighs ~50 MB rather than ~150 MB. The Arrow conversion happens where the records are written
(builder.run.to_table), which is also where a value Arrow refuses is traced back to its document.

What the records must look like (the schema's fields, record types, non-null fields) is given by the
caller as a `Spec`, made from builder.schema in the process that has it.

A document on which the segmenter raises, runs past the timeout, or whose records do not fit the
schema is reported as (kind, reason) and the batch goes on.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import NamedTuple

from builder.document import Document

SEGMENTER_ERROR = "segmenter_error"
SEGMENTER_TIMEOUT = "segmenter_timeout"
INVALID_RECORDS = "invalid_records"
DOC_TIMEOUT = 300.0  # CPU seconds the segmenter may spend on one document: a safety net, not a budget


class Spec(NamedTuple):
    """What a record must be: `fields` in column order, `types` the record types in class-index
    order, `not_null` the fields that may not be None."""

    fields: tuple[str, ...]
    types: tuple[str, ...]
    not_null: tuple[str, ...]


# (columns in Spec.fields order, `type` as its class index; per document None or (kind, reason); per
# document its number of records, 0 for a failed one)
Columns = list[list]
Segmented = tuple[Columns, list[tuple[str, str] | None], list[int]]


def _check_records(doc: Document, records, spec: Spec, type_index: dict[str, int]) -> str | None:
    """Why the segmenter's answer for `doc` cannot be written, or None. Cheap checks only: what
    the Arrow conversion would not catch (missing/extra fields, nulls, unknown type, spans
    outside the text)."""
    if not isinstance(records, list):
        return f"segment() returned a {type(records).__name__}, not a list"
    want = set(spec.fields)
    n = len(doc.text)
    not_null = spec.not_null
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            return f"record {i} is a {type(r).__name__}, not a dict"
        if r.keys() != want:
            missing, extra = sorted(want - r.keys()), sorted(r.keys() - want)
            return f"record {i}: " + "; ".join(
                ([f"missing fields {missing}"] if missing else []) + ([f"unknown fields {extra}"] if extra else []))
        if r["type"] not in type_index:
            return f"record {i}: type {r['type']!r} is not one of {list(spec.types)}"
        nulls = [k for k in not_null if r[k] is None]
        if nulls:
            return f"record {i}: null in non-nullable fields {nulls}"
        s, e = r["char_start"], r["char_end"]
        if not (isinstance(s, int) and isinstance(e, int) and 0 <= s <= e <= n):
            return f"record {i}: span [{s!r}, {e!r}) is not inside the text (length {n})"
        if not (0.0 <= r["score"] <= 1.0):
            return f"record {i}: score {r['score']!r} is not between 0 and 1"
    return None


def one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


class _DocTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _DocTimeout


def main_thread() -> bool:
    """Whether this is the main thread: only there may signal handlers be set."""
    return threading.current_thread() is threading.main_thread()


def _segment_one(segment: Callable[[Document], list[dict]], doc: Document, timeout: float | None) -> list[dict]:
    """segment(doc), stopped after `timeout` seconds of CPU time: a pattern that backtracks without
    end on one page must not hang a run of millions. CPU time, not wall time, so that a busy
    machine does not stop documents that merely waited. Needs the main thread (signals);
    elsewhere, no limit."""
    if not timeout or not main_thread():
        return segment(doc)
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    signal.setitimer(signal.ITIMER_PROF, timeout)
    try:
        return segment(doc)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def segment_columns(segment: Callable[[Document], list[dict]], docs: list[Document], spec: Spec,
                    timeout: float | None = DOC_TIMEOUT) -> Segmented:
    """Segment a batch: the records of the documents that went through, as columns (lists in
    spec.fields order, `type` as its class index: a list per column pickles smaller and faster
    than a dict per record), with per document None or (kind, reason) why it did not go through,
    and its record count."""
    outcome: list[list[dict] | None] = []
    failed: list[tuple[str, str] | None] = []
    for doc in docs:
        records, failure = None, None
        try:
            records = _segment_one(segment, doc, timeout)
        except _DocTimeout:
            failure = (SEGMENTER_TIMEOUT, f"the segmenter took more than {timeout:g} CPU seconds on this document "
                                          f"and was stopped")
        except Exception as e:  # any bug on one document must not cost the others
            failure = (SEGMENTER_ERROR, one_line(e))
        # the list as it was returned (a copy: it is checked once the whole batch is done, and a segmenter may
        # refill one list for every document)
        outcome.append(records.copy() if isinstance(records, list) else records)
        failed.append(failure)
    return checked_columns(docs, outcome, failed, spec)


def checked_columns(docs: list[Document], outcome: list, failed: list[tuple[str, str] | None], spec: Spec
                    ) -> Segmented:
    """Per document its records (`outcome`) or (kind, reason) why the segmenter failed on it
    (`failed`) → segment_columns's answer: records that do not fit the schema fail their document
    (invalid_records), the rest become the batch's columns. Shared by every way of running the
    segmenter (builder.staged runs it in steps)."""
    type_index = {t: i for i, t in enumerate(spec.types)}
    failures: list[tuple[str, str] | None] = []
    counts: list[int] = []
    kept: list[dict] = []
    for doc, records, failure in zip(docs, outcome, failed, strict=True):
        if failure is not None:
            failures.append(failure)
            counts.append(0)
            continue
        try:
            problem = _check_records(doc, records, spec, type_index)
        except Exception as e:  # e.g. a score that is not a number cannot even be compared
            problem = one_line(e)
        if problem is not None:
            failures.append((INVALID_RECORDS, f"the segmenter's records do not fit the schema: {problem}"))
            counts.append(0)
            continue
        failures.append(None)
        counts.append(len(records))
        kept.extend(records)
    return records_to_columns(kept, spec, type_index), failures, counts


def records_to_columns(records: list[dict], spec: Spec, type_index: dict[str, int] | None = None) -> Columns:
    """Checked records (dicts with every field of spec) → one list per field, `type` as its index."""
    if type_index is None:
        type_index = {t: i for i, t in enumerate(spec.types)}
    columns = [[r[name] for r in records] for name in spec.fields]
    t = spec.fields.index("type")
    columns[t] = [type_index[x] for x in columns[t]]
    return columns


def ignore_sigint() -> None:
    """A worker process's initializer. Ctrl-C reaches the whole process group: only the parent
    handles it (and stops the pool), so the workers do not each die with a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
