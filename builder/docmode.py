"""Document mode: records ↔ Label Studio tasks of whole pages, where annotators correct boundaries,
types, threads and speakers; their corrections become per-annotator records, agreement and gold.

Push. One task per document: its raw text exactly as segmented (read again from the inputs, and
checked against every record: collapse(raw[start:end]) must be the record's text), keyed by doc_id
and the sha256 of that text. The segmenter's records are one prediction: each record a `span`
region labelled with its type (region id = record_id), each reply or spam reply an `answers`
relation from it to the comment it answers, and a per-region `who` text with the quote's speaker or
the comment's author.

Offsets. Label Studio 1.23.2 counts `value.start`/`value.end` in code points over the text as
given, `\r` and `\n` one each (it draws each as a line break): the same as Python's string indices.
Measured with the real server and headless Chromium (tests/test_browser_docmode.py): a prediction
at Python offsets is highlighted on exactly its characters on a page with emoji, other astral
characters and `\r\n`, and a selection made in the page exports the Python offsets of what was
selected (its `value.text` writes each line-break character as backslash + `n`: `holds` knows that
form). Older Label Studio versions and other tools counted UTF-16 code units (a JavaScript
string's length: an astral character is two; label-studio #1347, Argilla #5729), so `Offsets`
converts those too, and the check below recognizes spans that were counted that way.

Pull. Only non-cancelled annotations count and, per annotator and task, only the latest (the rule
of record mode, labels.KEEP_RULE). Each region's offsets are checked against its exported
`value.text`: offsets that do not hold their text are repaired — read as UTF-16 units when that
holds the text, else the text is found at the nearest place — and every repair is reported with
the move; a region whose text is nowhere is left out with its reason. Nothing is shifted silently.
Whitespace at a region's ends is trimmed (the segmenter's spans never hold it; an annotator's drag
often does), and counted. An annotation whose thread is impossible (a relation cycle, a reply
pointing at nothing, a quote outside every article and comment, ...) is reported with its reason
and gives no records.

Agreement and gold. Between each pair of annotators of a document: span F1 with exact boundaries
and with the overlap rule (one-to-one matches of character IoU ≥ 0.5), type agreement over the
overlap-matched spans, parent agreement over them (both without parent, or parents matched to each
other). Gold: one annotator gives `single` gold; with several, the spans a strict majority made
alike (same boundaries, type and parent span) are gold and the rest `disputed`; a document with
no disputed span is `agreed`, else `disputed`. Documents with `single` or `agreed` gold are the
human-gold documents: their gold records (origin "human") replace the segmenter's in a release.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations, groupby
from pathlib import Path
from xml.etree import ElementTree

import pyarrow as pa
import pyarrow.parquet as pq

from builder.checksum import sha256_file
from builder.errors import BuilderError, InputError
from builder.labels import annotator_name, recency, write_pull  # record mode's keep rule and atomic writer
from builder.schema import FIELDS, SCHEMA_VERSION, TYPE_INDEX, TYPE_NAMES, data_dir
from builder.spill import SortedSpill

CONFIG_FILE = "document.xml"
OBJECT_NAME = "text"
SPAN_CONTROL = "span"
WHO_CONTROL = "who"
RELATION = "answers"
BROWSER_UNITS = "code points"  # what Label Studio 1.23.2 counts value.start/end in: see the module docstring
OVERLAP_IOU = 0.5
COMMENT_LIKE = ("comment", "reply", "spam")
CONTAINERS = ("article", "comment", "reply", "spam")  # what may hold a quote
GOLD_STATUSES = ("single", "agreed")  # a document whose gold is complete
DOC_STATUSES = ("unlabeled", "single", "agreed", "disputed")
# how a task is keyed: a document whose text changed is another task, never a silent replacement
TASK_KEYS = ("doc_id", "text_sha256")


class DocModeError(BuilderError):
    """Records, documents, a config or an export that document mode cannot use as given."""


# ------------------------------------------------------------------------------------------- config


def label_config() -> str:
    """labels/document.xml, checked against the schema before any use."""
    xml = data_dir("labels").joinpath(CONFIG_FILE).read_text(encoding="utf-8")
    check_label_config(xml)
    return xml


def config_labels(xml: str) -> dict[str, list[str]]:
    """Each <Labels> control's name → its label values, in order."""
    root = ElementTree.fromstring(xml)
    return {c.get("name"): [lab.get("value") for lab in c.iter("Label")] for c in root.iter("Labels")}


def check_label_config(xml: str) -> None:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as e:
        raise DocModeError(f"the document labeling config is not valid XML: {e}") from None
    labels = config_labels(xml)
    if labels.get(SPAN_CONTROL) != list(TYPE_NAMES):
        raise DocModeError(f"the document config's `{SPAN_CONTROL}` labels {labels.get(SPAN_CONTROL)} differ from the "
                           f"schema's types {list(TYPE_NAMES)}")
    relations = [r.get("value") for r in root.iter("Relation")]
    if relations != [RELATION]:
        raise DocModeError(f"the document config's relations {relations} must be exactly [{RELATION!r}]")
    who = [t for t in root.iter("TextArea") if t.get("name") == WHO_CONTROL]
    if len(who) != 1 or who[0].get("perRegion") != "true":
        raise DocModeError(f"the document config needs one per-region <TextArea name={WHO_CONTROL!r}>")
    texts = [t for t in root.iter("Text") if t.get("name") == OBJECT_NAME]
    if len(texts) != 1 or texts[0].get("value") != "$text":
        raise DocModeError(f"the document config needs one <Text name={OBJECT_NAME!r} value=\"$text\">")


def require_document_project(xml: str, project: str) -> None:
    """A project pulled in document mode must have been made by `push --mode document`."""
    try:
        check_label_config(xml)
    except DocModeError as e:
        raise DocModeError(f"project {project!r} is not a document-mode project ({e}); pull it without "
                           f"--mode document, or give the project `builder push --mode document` made") from None


# ------------------------------------------------------------------------------------------ offsets


class Offsets:
    """Python string indices (code points) ↔ UTF-16 code units (what a JavaScript string's length
    counts), for one text."""

    def __init__(self, text: str) -> None:
        self.n = len(text)
        astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]
        self._astral = astral  # code point indices of the two-unit characters, sorted
        self._unit_start = [a + k for k, a in enumerate(astral)]  # their first unit
        self.units = self.n + len(astral)

    def to_units(self, i: int) -> int:
        """Code point index → UTF-16 units before it."""
        if not 0 <= i <= self.n:
            raise ValueError(f"index {i} outside the text (0..{self.n})")
        return i + bisect.bisect_left(self._astral, i)

    def from_units(self, u) -> int | None:
        """UTF-16 unit offset → code point index; None when it is not an integer inside the text or
        falls between the two halves of a surrogate pair (no character boundary there)."""
        if not isinstance(u, int) or isinstance(u, bool) or not 0 <= u <= self.units:
            return None
        k = bisect.bisect_left(self._unit_start, u)  # astral characters that start before u
        if k and self._unit_start[k - 1] + 1 == u:
            return None
        return u - k


def collapse(s: str) -> str:
    return " ".join(s.split())


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# -------------------------------------------------------------------------------------- task building


_RECORD_COLUMNS = ["record_id", "doc_id", "type", "text", "char_start", "char_end", "parent_id", "depth", "position",
                   "author", "speaker", "title", "url", "domain", "encoding", "score", "segmenter_version"]


def read_records(path: str | Path) -> dict[str, list[dict]]:
    """Records Parquet (file or directory) → doc_id → its records in position order, `type` as name."""
    import pyarrow.dataset as ds

    path = Path(path)
    if not path.exists():
        raise InputError(f"records path {path} does not exist: give a records Parquet file or a directory of them")
    try:
        dataset = ds.dataset(path, format="parquet")
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path} is not readable as Parquet records ({e}): give the output of "
                         f"`builder segment`") from None
    missing = [c for c in _RECORD_COLUMNS if c not in dataset.schema.names]
    if missing:
        raise InputError(f"{path} lacks the record columns {', '.join(missing)}: give records written under "
                         f"schemas/record.v1.json")
    by_doc: dict[str, list[dict]] = defaultdict(list)
    seen: set[str] = set()
    for batch in dataset.to_batches(columns=_RECORD_COLUMNS):
        for r in batch.to_pylist():
            t = r["type"]
            if isinstance(t, int):
                if not 0 <= t < len(TYPE_NAMES):
                    raise InputError(f"{path}: record {r['record_id']} has type index {t}, outside "
                                     f"0..{len(TYPE_NAMES) - 1}")
                r["type"] = TYPE_NAMES[t]
            elif t not in TYPE_INDEX:
                raise InputError(f"{path}: record {r['record_id']} has unknown type {t!r}; valid: "
                                 f"{', '.join(TYPE_NAMES)}")
            if r["record_id"] in seen:
                raise InputError(f"{path}: record_id {r['record_id']} occurs more than once; a record file holds "
                                 f"each record once")
            seen.add(r["record_id"])
            by_doc[r["doc_id"]].append(r)
    for recs in by_doc.values():
        recs.sort(key=lambda r: r["position"])
    return dict(by_doc)


def read_texts(inputs: Iterable[str | os.PathLike], wanted: set[str], fields=None) -> dict[str, str]:
    """The raw text of each wanted document, read by ingest exactly as `builder segment` read it."""
    from builder.ingest import Fields, Ingested, read_documents

    texts: dict[str, str] = {}
    for item in read_documents(list(inputs), fields or Fields()):
        if isinstance(item, Ingested) and item.doc.doc_id in wanted:
            texts[item.doc.doc_id] = item.doc.text
    return texts


def check_document(doc_id: str, raw: str, records: list[dict]) -> None:
    """The records must have been segmented from exactly this text."""
    for r in records:
        s, e = r["char_start"], r["char_end"]
        if not 0 <= s <= e <= len(raw) or collapse(raw[s:e]) != r["text"]:
            raise DocModeError(f"document {doc_id!r} is not the text its records were segmented from (record "
                               f"{r['record_id']} at {s}:{e} does not hold its text): give the inputs `builder "
                               f"segment` read")


def build_task(raw: str, records: list[dict]) -> dict:
    """A Label Studio task for one document: its raw text and the segmenter's records as one
    prediction of span regions, `answers` relations and per-region `who` texts."""
    first = records[0]
    ids = {r["record_id"] for r in records}
    result: list[dict] = []
    relations: list[dict] = []
    for r in records:
        s, e = r["char_start"], r["char_end"]
        value = {"start": s, "end": e, "text": raw[s:e]}  # Label Studio counts code points, as Python
        result.append({"id": r["record_id"], "from_name": SPAN_CONTROL, "to_name": OBJECT_NAME, "type": "labels",
                       "value": value | {"labels": [r["type"]]}})
        who = r["speaker"] if r["type"] == "quote" else r["author"] if r["type"] in COMMENT_LIKE else None
        if who:
            result.append({"id": r["record_id"], "from_name": WHO_CONTROL, "to_name": OBJECT_NAME, "type": "textarea",
                           "value": value | {"text": [who]}})
        if r["type"] in ("reply", "spam") and r["parent_id"] in ids:
            relations.append({"from_id": r["record_id"], "to_id": r["parent_id"], "type": "relation",
                              "direction": "right", "labels": [RELATION]})
    scores = [float(r["score"]) for r in records]
    return {
        "data": {
            "doc_id": first["doc_id"],
            "text": raw,
            "text_sha256": text_sha256(raw),
            "title": first["title"] or "(no title)",
            "url": first["url"],
            "domain": first["domain"],
            "encoding": first["encoding"],
            "segmenter_version": first["segmenter_version"],
            "segmenter_records": len(records),
        },
        "predictions": [{"model_version": first["segmenter_version"], "score": sum(scores) / len(scores),
                         "result": result + relations}],
    }


@dataclass
class PushReport:
    project: str
    project_id: int
    created: bool
    documents: int
    already: int
    imported: int
    batches: int
    changed: list[str] = field(default_factory=list)  # doc_ids whose text differs from the project's task
    regions: int = 0
    relations: int = 0


def push(records: str | Path, documents: Iterable[str | os.PathLike], project: str, *, client=None,
         batch_size: int = 100, fields=None, on_batch: Callable[[int], None] | None = None) -> PushReport:
    """One task per document of RECORDS, its raw text read from `documents` (the inputs `builder
    segment` read). Keyed by (doc_id, sha256 of the text): a document the project holds already is
    skipped, one whose text changed is reported in `changed` and not imported (the project keeps
    the old task; push to a new project to label the new text)."""
    from builder import studio

    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, not {batch_size}")
    by_doc = read_records(records)
    texts = read_texts(documents, set(by_doc), fields)
    missing = sorted(set(by_doc) - set(texts))
    if missing:
        raise DocModeError(f"{len(missing)} document(s) of {records} are not in the documents given (e.g. "
                           f"{missing[0]!r}): give the inputs `builder segment` read with --docs")
    for doc_id in sorted(by_doc):
        check_document(doc_id, texts[doc_id], by_doc[doc_id])
    client = client or studio.connect()
    proj, created = studio.ensure_document_project(client, project, label_config(), check_label_config)
    known: dict[str, set[str]] = defaultdict(set)
    if not created:
        for data in studio.project_task_data(client, proj.id):
            if isinstance(data.get("doc_id"), str):
                known[data["doc_id"]].add(data.get("text_sha256"))
    report = PushReport(project=project, project_id=proj.id, created=created, documents=len(by_doc), already=0,
                        imported=0, batches=0)
    batch: list[dict] = []

    def flush() -> None:
        studio.import_tasks(client, proj.id, batch)
        report.batches += 1
        report.imported += len(batch)
        if on_batch:
            on_batch(len(batch))
        batch.clear()

    for doc_id in sorted(by_doc):
        sha = text_sha256(texts[doc_id])
        if doc_id in known:
            if sha in known[doc_id]:
                report.already += 1
            else:
                report.changed.append(doc_id)
            continue
        task = build_task(texts[doc_id], by_doc[doc_id])
        result = task["predictions"][0]["result"]
        report.regions += sum(1 for x in result if x.get("from_name") == SPAN_CONTROL)
        report.relations += sum(1 for x in result if x.get("type") == "relation")
        batch.append(task)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return report


# --------------------------------------------------------------------------------------------- pull

KEEP_RULE = ("drop skipped/cancelled annotations (was_cancelled); of the rest keep, per annotator and task, only "
             "the latest (updated_at, then created_at, then annotation id, newest first), as in record mode")


_WS = frozenset(" \t\n\r\f\v\u00a0\u2028\u2029\u200b\ufeff")


def _nearest(raw: str, needle: str, near: int) -> int | None:
    """Start of the occurrence of `needle` in `raw` nearest to `near`; None when there is none."""
    best = None
    at = raw.find(needle)
    while at >= 0:
        if best is None or abs(at - near) < abs(best - near):
            best = at
        if at > near:
            break
        at = raw.find(needle, at + 1)
    return best


def _no_cr(s: str) -> str:
    return s.replace("\r", "")


def _as_exported(s: str) -> str:
    """How Label Studio 1.23.2 writes a selection's `value.text`: each line-break character (`\r` or
    `\n`, each drawn as a line break) as the two characters backslash and `n`."""
    return s.replace("\r", "\\n").replace("\n", "\\n") if ("\r" in s or "\n" in s) else s


def holds(raw_span: str, text: str) -> bool:
    """Whether a raw span is the region's exported text: equal, equal in Label Studio's exported form,
    or equal but for carriage returns."""
    return raw_span == text or _as_exported(raw_span) == text or _no_cr(raw_span) == _no_cr(text)


def _pattern(text: str) -> re.Pattern:
    """The raw spans an exported text can stand for: a literal backslash-n may be one line-break
    character, a `\n` may follow a `\r` the text does not show."""
    parts = []
    for piece in re.split(r"(\\n|\n)", text):
        if piece == "\\n":
            parts.append("(?:[\r\n]|\\\\n)")
        elif piece == "\n":
            parts.append("\r?\n")
        elif piece:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def _nearest(raw: str, text: str, near: int) -> tuple[int, int] | None:
    """The occurrence of the region's text in `raw` nearest to `near`, as (start, end); None when
    there is none."""
    best = None
    for m in _pattern(text).finditer(raw):
        if best is None or abs(m.start() - near) < abs(best[0] - near):
            best = (m.start(), m.end())
        if m.start() > near:
            break
    return best


def locate(raw: str, off: Offsets, value: dict) -> tuple[int | None, int | None, str | None, str | None]:
    """A region's Python span from its exported value: (start, end, repair, None), or (None, None,
    None, reason) when it cannot be placed. The offsets (code points) must hold value.text (see
    `holds`). Otherwise: the offsets read as UTF-16 units, then the text at the nearest place;
    `repair` says what was done."""
    su, eu, text = value.get("start"), value.get("end"), value.get("text")
    if not isinstance(text, str) or not text:
        return None, None, None, f"the region has no exported text (start {su!r}, end {eu!r}) to check its offsets by"
    ok = (isinstance(su, int) and isinstance(eu, int) and not isinstance(su, bool) and not isinstance(eu, bool)
          and 0 <= su <= eu <= len(raw))
    if ok and holds(raw[su:eu], text):
        return su, eu, None, None
    s16, e16 = off.from_units(su), off.from_units(eu)
    if s16 is not None and e16 is not None and (s16, e16) != (su, eu) and holds(raw[s16:e16], text):
        return s16, e16, (f"offsets {su}:{eu} hold the region's text only as UTF-16 code units (a client counting "
                          f"JavaScript string length): {s16}:{e16} in code points"), None
    where = f"hold {raw[su:eu][:40]!r}" if ok else f"are outside the text (0..{len(raw)})"
    near = min(max(su if isinstance(su, int) and not isinstance(su, bool) else 0, 0), len(raw))
    found = _nearest(raw, text, near)
    if found is None:
        return None, None, None, (f"offsets {su}:{eu} {where}, not the region's text {text[:40]!r}, and that text "
                                  f"is nowhere in the document")
    at, end = found
    return at, end, (f"offsets {su}:{eu} {where}, not the region's text; the text is at {at}:{end} (moved by "
                     f"{at - near:+d})"), None


def _trim(raw: str, s: int, e: int) -> tuple[int, int]:
    while s < e and raw[s] in _WS:
        s += 1
    while e > s and raw[e - 1] in _WS:
        e -= 1
    return s, e


@dataclass
class Judged:
    """One kept annotation of one document, judged."""

    doc_id: str
    annotator: str
    annotation_id: int
    records: list[dict]  # empty when `problems` is not
    problems: list[str]  # impossible thread or unusable regions: the annotation gives no records
    repairs: list[dict]
    left_out: list[dict]
    trimmed: int


def judge_annotation(doc_id: str, raw: str, off: Offsets, annotation: dict, annotator: str) -> Judged:
    """An annotation's result → the annotator's records (type, Python offsets, text, parent, depth,
    speaker or author), or the reasons its thread is impossible."""
    from builder.segment import record_id

    aid = int(annotation.get("id") or 0)
    spans: dict[str, dict] = {}
    who: dict[str, str] = {}
    relations: list[dict] = []
    repairs: list[dict] = []
    left_out: list[dict] = []
    problems: list[str] = []
    trimmed = 0
    for item in annotation.get("result") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "relation":
            relations.append(item)
            continue
        rid, name, value = item.get("id"), item.get("from_name"), item.get("value") or {}
        if name == WHO_CONTROL:
            texts = [t.strip() for t in value.get("text") or [] if isinstance(t, str) and t.strip()]
            if texts:
                who[rid] = texts[-1]
            continue
        if name != SPAN_CONTROL:
            left_out.append({"region": rid, "reason": f"result of unknown control {name!r}; the config has "
                                                      f"`{SPAN_CONTROL}`, `{WHO_CONTROL}` and relations"})
            continue
        labels = value.get("labels") or []
        if len(labels) != 1 or labels[0] not in TYPE_INDEX:
            left_out.append({"region": rid,
                             "reason": f"labels {labels}: exactly one of {', '.join(TYPE_NAMES)} is valid"})
            continue
        s, e, repair, reason = locate(raw, off, value)
        if reason:
            left_out.append({"region": rid, "reason": reason})
            continue
        if repair:
            repairs.append({"region": rid, "repair": repair})
        ts, te = _trim(raw, s, e)
        if (ts, te) != (s, e):
            trimmed += 1
        if ts == te:
            left_out.append({"region": rid, "reason": "the region holds only whitespace"})
            continue
        if rid in spans:
            problems.append(f"region id {rid} is used by two spans")
            continue
        spans[rid] = {"type": labels[0], "start": ts, "end": te}

    for rid, text in who.items():
        if rid in spans:
            spans[rid]["who"] = text

    parent: dict[str, str] = {}
    lost = {x["region"] for x in left_out}
    for rel in relations:
        a, b, direction = rel.get("from_id"), rel.get("to_id"), rel.get("direction") or "right"
        if direction == "left":
            a, b = b, a
        elif direction == "bi":
            problems.append(f"relation {a}–{b} points both ways: draw it from the reply to the comment it answers")
            continue
        if a not in spans or b not in spans:
            gone = [x for x in (a, b) if x not in spans]
            why = " (left out: its offsets could not be placed)" if any(x in lost for x in gone) else ""
            problems.append(f"relation {a} → {b} points at nothing: no span {', '.join(map(str, gone))}{why}")
            continue
        ka, kb = spans[a]["type"], spans[b]["type"]
        if ka not in ("reply", "spam"):
            problems.append(f"a {ka} ({_at(spans[a])}) answers another record: only a reply or a spam reply has a "
                            f"relation; a comment answering a comment is a reply")
            continue
        if kb not in COMMENT_LIKE:
            problems.append(f"the {ka} at {_at(spans[a])} answers a {kb} ({_at(spans[b])}): replies answer a "
                            f"comment, a reply or spam")
            continue
        if a in parent:
            problems.append(f"the {ka} at {_at(spans[a])} answers two records")
            continue
        parent[a] = b
    for rid, sp in spans.items():
        if sp["type"] == "reply" and rid not in parent:
            problems.append(f"the reply at {_at(sp)} points at nothing: draw an `{RELATION}` relation to the comment "
                            f"it answers, or label it comment")
    for rid in parent:  # cycles: follow each chain until it ends or comes back
        seen, cur = [rid], parent[rid]
        while cur in parent and cur not in seen:
            seen.append(cur)
            cur = parent[cur]
        if cur == rid:
            problems.append(f"relation cycle: {' → '.join(_at(spans[x]) for x in seen)} → {_at(spans[rid])}")
    containers = [(sp["start"], sp["end"], rid) for rid, sp in spans.items() if sp["type"] in CONTAINERS]
    for rid, sp in spans.items():
        if sp["type"] != "quote":
            continue
        inside = [(e - s, r) for s, e, r in containers if s <= sp["start"] and sp["end"] <= e]
        if not inside:
            problems.append(f"the quote at {_at(sp)} is outside every article and comment")
        else:
            parent[rid] = min(inside)[1]
    problems = sorted(set(problems))
    if problems:
        return Judged(doc_id, annotator, aid, [], problems, repairs, left_out, trimmed)

    def depth(rid: str) -> int:
        sp = spans[rid]
        if sp["type"] == "quote":
            return depth(parent[rid])
        return 0 if rid not in parent else depth(parent[rid]) + 1

    ids = {rid: record_id(doc_id, sp["start"], sp["end"], sp["type"] == "quote") for rid, sp in spans.items()}
    dup = [k for k, n in Counter(ids.values()).items() if n > 1]
    if dup:
        return Judged(doc_id, annotator, aid, [], [f"two regions cover the same span ({len(dup)} such)"], repairs,
                      left_out, trimmed)
    records = []
    for rid, sp in spans.items():
        kind = sp["type"]
        records.append({
            "doc_id": doc_id, "annotator": annotator, "annotation_id": aid, "region_id": rid,
            "record_id": ids[rid], "type": kind, "char_start": sp["start"], "char_end": sp["end"],
            "text": collapse(raw[sp["start"]:sp["end"]]),
            "parent_id": ids[parent[rid]] if rid in parent else None, "depth": depth(rid),
            "author": sp.get("who") if kind in COMMENT_LIKE else None,
            "speaker": sp.get("who") if kind == "quote" else None,
        })
    _number(records)
    return Judged(doc_id, annotator, aid, records, [], repairs, left_out, trimmed)


def _at(sp: dict) -> str:
    return f"{sp['start']}:{sp['end']}"


def _number(records: list[dict]) -> None:
    """Positions as the segmenter gives them: by start, containers before what they contain."""
    records.sort(key=lambda r: (r["char_start"], -r["char_end"], r["type"] == "quote"))
    for i, r in enumerate(records):
        r["position"] = i


@dataclass
class DocTask:
    doc_id: str
    text: str
    data: dict  # the task's data but its text
    annotations: list[dict]  # kept (latest per annotator), with "annotator"


class _Export:
    """The export's document tasks with the annotations that count under KEEP_RULE, taken task by
    task and given back in doc_id order (sorted on disk with a `spill` folder, so a large export is
    never held whole)."""

    def __init__(self, spill: Path | None = None) -> None:
        self.tasks = SortedSpill(spill)
        self.counts = Counter()
        self.foreign: list = []

    def add(self, task) -> None:
        data = task.get("data") if isinstance(task, dict) else None
        if not (isinstance(data, dict) and isinstance(data.get("doc_id"), str) and isinstance(data.get("text"), str)):
            self.foreign.append(task.get("id") if isinstance(task, dict) else None)
            return
        if data.get("text_sha256") and data["text_sha256"] != text_sha256(data["text"]):
            raise DocModeError(f"task {task.get('id')} of document {data['doc_id']!r}: its text does not match its "
                               f"text_sha256; the task was edited outside builder push")
        latest: dict[str, dict] = {}
        for a in sorted(task.get("annotations") or [], key=recency, reverse=True):
            if a.get("was_cancelled"):
                self.counts["skipped_or_cancelled"] += 1
                continue
            who = annotator_name(a.get("completed_by"))
            if who in latest:
                self.counts["superseded"] += 1
            else:
                latest[who] = a | {"annotator": who}
        self.counts["drafts_not_submitted"] += len(task.get("drafts") or [])
        rest = {k: v for k, v in data.items() if k != "text"}  # the text goes to the sort once, as DocTask.text
        self.tasks.add(data["doc_id"], [data["doc_id"], data["text"], rest, [latest[w] for w in sorted(latest)]])

    def documents(self) -> Iterator[DocTask]:
        for doc_id, tasks in groupby(self.tasks, key=lambda t: t[0]):
            first, *more = tasks
            if more:
                raise DocModeError(f"document {doc_id!r} has {1 + len(more)} tasks in the project (texts differ): "
                                   f"pull a project whose documents each have one task")
            yield DocTask(*first)


# ------------------------------------------------------------------------------------ agreement, gold


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def match_spans(a: list[tuple[int, int]], b: list[tuple[int, int]], *, overlap: bool) -> dict[int, int]:
    """One-to-one matches index in a → index in b: equal boundaries, or (overlap) character IoU ≥
    OVERLAP_IOU, best pairs first (ties by position, so the result is deterministic)."""
    if not overlap:
        where = {span: j for j, span in enumerate(b)}
        return {i: where[span] for i, span in enumerate(a) if span in where}
    pairs = sorted(((-_iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                    if _iou(x, y) >= OVERLAP_IOU))
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in pairs:
        if i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


def _f1(matched: int, n_a: int, n_b: int) -> float | None:
    return None if n_a + n_b == 0 else 2 * matched / (n_a + n_b)


def pair_agreement(a: list[dict], b: list[dict]) -> dict:
    """Agreement counts between two annotators' records of one document."""
    sa = [(r["char_start"], r["char_end"]) for r in a]
    sb = [(r["char_start"], r["char_end"]) for r in b]
    exact = match_spans(sa, sb, overlap=False)
    over = match_spans(sa, sb, overlap=True)
    ia = {r["record_id"]: i for i, r in enumerate(a)}
    ib = {r["record_id"]: j for j, r in enumerate(b)}
    same_type = sum(a[i]["type"] == b[j]["type"] for i, j in over.items())
    same_parent = 0
    for i, j in over.items():
        pa_, pb_ = a[i]["parent_id"], b[j]["parent_id"]
        if pa_ is None and pb_ is None:
            same_parent += 1
        elif pa_ is not None and pb_ is not None and over.get(ia.get(pa_)) == ib.get(pb_):
            same_parent += 1
    return {"n_a": len(a), "n_b": len(b), "exact": len(exact), "overlap": len(over), "same_type": same_type,
            "same_parent": same_parent}


def summarize(counts: list[dict]) -> dict:
    """Pair counts (summed) → span F1 exact and overlap, type and parent agreement over matched spans."""
    tot = Counter()
    for c in counts:
        tot.update(c)
    n = tot["n_a"] + tot["n_b"]
    return {
        "pairs": len(counts),
        "span_f1_exact": None if n == 0 else 2 * tot["exact"] / n,
        "span_f1_overlap": None if n == 0 else 2 * tot["overlap"] / n,
        "type_agreement": None if tot["overlap"] == 0 else tot["same_type"] / tot["overlap"],
        "parent_agreement": None if tot["overlap"] == 0 else tot["same_parent"] / tot["overlap"],
        "matched_spans": tot["overlap"],
    }


def gold(doc_id: str, per_annotator: dict[str, list[dict]]) -> tuple[str, list[dict], list[dict]]:
    """(status, gold spans, disputed spans) of one document from each annotator's records. A span is
    made alike when boundaries, type and parent span are the same; a strict majority of the
    document's annotators makes it gold. Speaker/author: the most frequent answer among those who
    made it (ties: the alphabetically first; none when most gave none)."""
    n = len(per_annotator)
    if n == 0:
        return "unlabeled", [], []
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for who in sorted(per_annotator):
        recs = per_annotator[who]
        span_of = {r["record_id"]: (r["char_start"], r["char_end"]) for r in recs}
        for r in recs:
            key = (r["char_start"], r["char_end"], r["type"], span_of.get(r["parent_id"]))
            by_key[key].append(r | {"annotator": who})
    gold_keys = {k for k, v in by_key.items() if 2 * len(v) > n}
    # a gold span whose parent span is not gold has no gold parent: it is disputed too
    changed = True
    while changed:
        spans = {(k[0], k[1]) for k in gold_keys}
        drop = {k for k in gold_keys if k[3] is not None and k[3] not in spans}
        changed = bool(drop)
        gold_keys -= drop
    gold_spans, disputed = [], []
    for key in sorted(by_key, key=lambda k: (k[0], -k[1], k[2] == "quote", k[2], str(k[3]))):
        made = by_key[key]
        whos = Counter(r["author"] if r["type"] in COMMENT_LIKE else r["speaker"] for r in made)
        top = min(whos.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))[0]
        span = {"char_start": key[0], "char_end": key[1], "type": key[2], "parent_span": key[3],
                "annotators": sorted(r["annotator"] for r in made), "agreement": len(made) / n, "who": top}
        (gold_spans if key in gold_keys else disputed).append(span)
    if n == 1:
        return "single", gold_spans, disputed
    return ("agreed" if not disputed else "disputed"), gold_spans, disputed


def gold_records(task: DocTask, spans: list[dict]) -> list[dict]:
    """Gold spans → records under schemas/record.v1.json, origin "human"; `score` is the share of the
    document's annotators who made the span alike."""
    from builder.segment import record_id

    raw, d = task.text, task.data
    ids = {(s["char_start"], s["char_end"], s["type"] == "quote"):
           record_id(task.doc_id, s["char_start"], s["char_end"], s["type"] == "quote") for s in spans}
    by_span = {}
    for s in spans:
        if s["type"] != "quote":
            by_span[(s["char_start"], s["char_end"])] = s
    def depth(s: dict) -> int:
        p = s["parent_span"]
        if p is None:
            return 0
        parent = by_span[p]
        return depth(parent) + (0 if s["type"] == "quote" else 1)

    out = []
    for s in spans:
        kind = s["type"]
        p = s["parent_span"]
        out.append({
            "record_id": ids[(s["char_start"], s["char_end"], kind == "quote")],
            "doc_id": task.doc_id, "type": kind, "text": collapse(raw[s["char_start"]:s["char_end"]]),
            "char_start": s["char_start"], "char_end": s["char_end"],
            "parent_id": None if p is None else ids[(p[0], p[1], False)],
            "depth": depth(s), "position": 0,
            "author": s["who"] if kind in COMMENT_LIKE else None,
            "speaker": s["who"] if kind == "quote" else None,
            "speaker_resolved": s["who"] if kind == "quote" else None,
            "title": None if d.get("title") in (None, "(no title)") else d.get("title"),
            "url": d.get("url"), "domain": d.get("domain"), "encoding": d.get("encoding") or "utf-8",
            "score": float(s["agreement"]), "origin": "human",
            "segmenter_version": d.get("segmenter_version") or "unknown", "schema_version": SCHEMA_VERSION,
        })
    _number(out)
    return out


# --------------------------------------------------------------------------------- the LABELS directory

ANNOTATOR_RECORDS_SCHEMA = pa.schema([
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("annotator", pa.string(), nullable=False),
    pa.field("annotation_id", pa.int64(), nullable=False),
    pa.field("region_id", pa.string()),
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("char_start", pa.int64(), nullable=False),
    pa.field("char_end", pa.int64(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("parent_id", pa.string()),
    pa.field("depth", pa.int32(), nullable=False),
    pa.field("position", pa.int32(), nullable=False),
    pa.field("author", pa.string()),
    pa.field("speaker", pa.string()),
])
DOCUMENTS_SCHEMA = pa.schema([
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("text_sha256", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("annotators", pa.list_(pa.string())),
    pa.field("gold_spans", pa.int32(), nullable=False),
    pa.field("disputed_spans", pa.int32(), nullable=False),
    pa.field("span_f1_exact", pa.float64()),
    pa.field("span_f1_overlap", pa.float64()),
    pa.field("type_agreement", pa.float64()),
    pa.field("parent_agreement", pa.float64()),
])
GOLD_FILE = "gold.parquet"
REPORT_FILE = "docmode.json"


@dataclass
class Pulled:
    records: list[dict]  # per annotator
    documents: list[dict]
    gold: list[dict]  # schema records of human-gold documents
    report: dict


class _Judged:
    """from_export's judgement, document by document (in doc_id order), with the report's totals."""

    def __init__(self) -> None:
        self.impossible, self.repairs, self.left_out, self.disputed = [], [], [], []
        self.trimmed = self.documents = self.gold_records = self.annotations = self.pairs = 0
        self.pair_counts = Counter()  # summed over every pair of annotators of every document
        self.statuses = Counter()
        self.gold_documents: list[str] = []
        self.annotators: set[str] = set()

    def document(self, task: DocTask) -> tuple[list[dict], dict, list[dict]]:
        """(per-annotator records, the documents row, gold records) of one document."""
        off = Offsets(task.text)
        per: dict[str, list[dict]] = {}
        records: list[dict] = []
        self.annotations += len(task.annotations)
        for a in task.annotations:
            j = judge_annotation(task.doc_id, task.text, off, a, a["annotator"])
            self.trimmed += j.trimmed
            where = {"doc_id": task.doc_id, "annotator": j.annotator, "annotation_id": j.annotation_id}
            self.repairs += [where | r for r in j.repairs]
            self.left_out += [where | r for r in j.left_out]
            if j.problems:
                self.impossible.append(where | {"reasons": j.problems})
                continue
            per[j.annotator] = j.records
            records += j.records
            self.annotators.update(r["annotator"] for r in j.records)
        pairs = [pair_agreement(per[x], per[y]) for x, y in combinations(sorted(per), 2)]
        for pair in pairs:
            self.pair_counts.update(pair)
        self.pairs += len(pairs)
        agree = summarize(pairs)
        status, gspans, dspans = gold(task.doc_id, per)
        self.disputed += [{"doc_id": task.doc_id} | d for d in dspans]
        gold_out = gold_records(task, gspans) if status in GOLD_STATUSES else []
        self.documents += 1
        self.statuses[status] += 1
        self.gold_records += len(gold_out)
        if status in GOLD_STATUSES:
            self.gold_documents.append(task.doc_id)
        row = {
            "doc_id": task.doc_id, "text_sha256": text_sha256(task.text), "status": status,
            "annotators": sorted(per), "gold_spans": len(gspans), "disputed_spans": len(dspans),
            **{k: agree[k] for k in ("span_f1_exact", "span_f1_overlap", "type_agreement", "parent_agreement")},
        }
        return records, row, gold_out

    def report(self, export: _Export) -> dict:
        return {
            "documents": self.documents,
            "status": {s: self.statuses.get(s, 0) for s in DOC_STATUSES},
            "human_gold_documents": self.gold_documents,
            "gold_records": self.gold_records,
            "annotations": {"kept": self.annotations - len(self.impossible), "impossible": len(self.impossible),
                            **{k: export.counts.get(k, 0) for k in ("skipped_or_cancelled", "superseded",
                                                                    "drafts_not_submitted")}},
            "annotators": sorted(self.annotators),
            "agreement": summarize([self.pair_counts]) | {"pairs": self.pairs},
            "regions": {"repaired": len(self.repairs), "left_out": len(self.left_out),
                        "trimmed_whitespace": self.trimmed},
            "impossible": self.impossible,
            "repaired": self.repairs,
            "left_out": self.left_out,
            "disputed": self.disputed,
            "tasks_without_document": export.foreign,
            "offset_units": BROWSER_UNITS,
            "keep_rule": KEEP_RULE,
            "gold_rule": "one annotator: single; several: spans a strict majority made alike (boundaries, type, parent "
                         "span) are gold, the rest disputed; documents single or agreed (no disputed span) are human gold",
            "overlap_rule": f"one-to-one matches of character IoU >= {OVERLAP_IOU}",
        }


def from_export(tasks) -> Pulled:
    """Judge a document-mode export (a list of tasks, in memory): per-annotator records, impossible
    threads, repairs, agreement, gold. `write` streams the same judgement from a file."""
    if not isinstance(tasks, list):
        raise DocModeError("the export is not a JSON list of tasks: take it with `builder pull --mode document`")
    export = _Export()
    for task in tasks:
        export.add(task)
    judged = _Judged()
    records, documents, gold_out = [], [], []
    for task in export.documents():
        recs, row, gold_recs = judged.document(task)
        records += recs
        documents.append(row)
        gold_out += gold_recs
    return Pulled(records, documents, gold_out, judged.report(export))


WRITE_DOCS = 1024  # documents judged per Parquet write while a pull streams


def write(out: str | Path, *, snapshot_id: int, project: str, project_id: int, export_bytes: bytes | None = None,
          export_file: Path | None = None) -> dict:
    """Judge the raw export (`export_bytes`, or `export_file`: a downloaded export, moved into the
    LABELS directory) and write the document-mode LABELS directory at `out`, atomically (a
    temporary sibling renamed into place; an earlier LABELS is replaced only then):

      export-<id>.json   the raw export as downloaded, read-only (sha256 in docmode.json)
      records.parquet    one row per record each annotator made
      documents.parquet  one row per document: status, gold/disputed spans, agreement
      gold.parquet       the human-gold documents' records under schemas/record.v1.json (origin human)
      docmode.json       counts, agreement, impossible threads, repairs and left-out regions with reasons

    The export is read task by task, sorted by doc_id on disk and judged document by document, so
    memory does not grow with the project (as record mode's pull).
    """
    from builder.labels import ExportError
    from builder.run import storage_schema

    out = Path(out)
    check_out(out)

    def tables(tmp: Path, tasks: Iterator, sorting: Path) -> dict:
        export = _Export(sorting)
        try:
            for task in tasks:
                export.add(task)
        except ExportError as e:
            raise DocModeError(f"project {project!r}: " + str(e).replace("`builder pull`", "`builder pull --mode document`")
                               ) from None
        judged = _Judged()
        gold_schema = storage_schema()
        with pq.ParquetWriter(tmp / "records.parquet", ANNOTATOR_RECORDS_SCHEMA) as records_out, \
                pq.ParquetWriter(tmp / "documents.parquet", DOCUMENTS_SCHEMA) as documents_out, \
                pq.ParquetWriter(tmp / GOLD_FILE, gold_schema) as gold_out:
            records: list[dict] = []
            documents: list[dict] = []
            gold: list[dict] = []

            def flush() -> None:
                records_out.write_table(pa.Table.from_pylist(
                    [{k: r.get(k) for k in ANNOTATOR_RECORDS_SCHEMA.names} for r in records],
                    schema=ANNOTATOR_RECORDS_SCHEMA))
                documents_out.write_table(pa.Table.from_pylist(documents, schema=DOCUMENTS_SCHEMA))
                gold_out.write_table(gold_table(gold, gold_schema))

            for task in export.documents():
                recs, row, gold_recs = judged.document(task)
                records += sorted(recs, key=lambda r: (r["annotator"], r["position"]))
                documents.append(row)
                gold += gold_recs
                if len(documents) >= WRITE_DOCS:
                    flush()
                    records, documents, gold = [], [], []
            if documents or not judged.documents:  # the last documents; an empty export still has its tables
                flush()
        return judged.report(export)

    return write_pull(out, export_bytes=export_bytes, export_file=export_file, snapshot_id=snapshot_id,
                      project=project, project_id=project_id, report_file=REPORT_FILE, write_tables=tables)


def check_out(out: str | Path) -> None:
    """LABELS may be new or an earlier document-mode pull's output (then replaced), nothing else."""
    out = Path(out)
    if out.exists() and not (out / REPORT_FILE).is_file():
        raise InputError(f"{out} exists and is not a document-mode LABELS directory: give a new path or an earlier "
                         f"pull's output")


def gold_table(records: list[dict], schema: pa.Schema) -> pa.Table:
    records = sorted(records, key=lambda r: (r["doc_id"], r["position"]))
    cols = {name: [r[name] for r in records] for name in FIELDS}
    cols["type"] = [TYPE_INDEX[t] for t in cols["type"]]
    return pa.Table.from_pydict(cols, schema=schema)


# ------------------------------------------------------------------------------------------ releases


def merge_gold(records: str | Path, documents: str | Path, out_dir: str | Path) -> dict:
    """RECORDS with the human-gold documents of a document-mode LABELS directory taken from people:
    their segmenter records are dropped and their gold records (origin "human") put in their place;
    every other document keeps the segmenter's records. Written as two shards in `out_dir` (a
    temporary directory renamed into place), the segmenter's records streamed batch by batch, for
    `builder publish` to release (it orders rows itself). Returns the counts."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from builder.run import storage_schema

    documents = Path(documents)
    gold_file, report_file = documents / GOLD_FILE, documents / REPORT_FILE
    if not gold_file.is_file() or not report_file.is_file():
        raise InputError(f"{documents} is not a document-mode LABELS directory (`builder pull --mode document`): it "
                         f"needs {GOLD_FILE} and {REPORT_FILE}")
    schema = storage_schema()
    try:
        gold_t = pq.read_table(gold_file).cast(schema)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DocModeError(f"{gold_file} is not the gold records `builder pull --mode document` writes "
                           f"({str(e).splitlines()[0]}): pull it again") from None
    gold_docs = pc.unique(gold_t["doc_id"])
    path = Path(records)
    if not path.exists():
        raise InputError(f"records path {path} does not exist: give a records Parquet file or a directory of them")
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*.parquet") if not any(x.startswith((".", "_")) for x in p.relative_to(path).parts))
    dataset = ds.dataset([str(f) for f in files], format="parquet", schema=schema)
    present = pc.unique(dataset.to_table(columns=["doc_id"])["doc_id"])
    absent = pc.filter(gold_docs, pc.invert(pc.is_in(gold_docs, value_set=present))).to_pylist()
    if absent:
        raise InputError(f"{len(absent)} human-gold document(s) of {documents} are not in {records} (e.g. "
                         f"{absent[0]!r}): give the records the document-mode project was pushed from")
    in_gold = pc.is_in(ds.field("doc_id"), value_set=gold_docs)
    replaced = dataset.count_rows(filter=in_gold)
    _check_same_texts(documents, dataset.to_table(filter=in_gold, columns=["doc_id", "record_id", "text",
                                                                           "char_start", "char_end"]), records)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    kept = 0
    try:
        with pq.ParquetWriter(tmp / "part-00000.parquet", schema, compression="zstd") as w:
            for batch in dataset.to_batches(filter=~in_gold, batch_size=16_384, batch_readahead=2, fragment_readahead=1,
                                            use_threads=False,  # nor pre-buffer a whole file (see release.READAHEAD)
                                            fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)):
                w.write_batch(batch)
                kept += batch.num_rows
        pq.write_table(gold_t, tmp / "part-00001.parquet", compression="zstd")
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"human_documents": len(gold_docs), "human_records": gold_t.num_rows,
            "segmenter_records_replaced": replaced, "segmenter_records": kept}


def _check_same_texts(documents: Path, segmented: pa.Table, records) -> None:
    """The gold's offsets index the text annotators saw (in the kept export): RECORDS must have been
    segmented from that same text, or the human records would land on other characters."""
    try:
        meta = json.loads((documents / REPORT_FILE).read_text(encoding="utf-8"))
        export = documents / meta["export_file"]
        altered = sha256_file(export) != meta["export_sha256"]
    except (ValueError, OSError, KeyError, TypeError) as e:
        raise DocModeError(f"{documents / REPORT_FILE} does not name a readable export with its sha256 "
                           f"({type(e).__name__}: {e}): the LABELS directory was altered; pull it again") from None
    if altered:
        raise DocModeError(f"{export} does not match the sha256 in {REPORT_FILE}: the LABELS directory was altered; "
                           f"pull it again")
    from builder.labels import iter_export

    wanted = set(segmented.column("doc_id").to_pylist())
    with open(export, "rb") as f:  # task by task, keeping the texts of the documents checked only
        texts = {t["data"]["doc_id"]: t["data"]["text"] for t in iter_export(f)
                 if isinstance(t, dict) and isinstance(t.get("data"), dict)
                 and isinstance(t["data"].get("doc_id"), str) and t["data"]["doc_id"] in wanted}
    for r in segmented.to_pylist():
        raw = texts.get(r["doc_id"])
        s, e = r["char_start"], r["char_end"]
        if raw is None or not 0 <= s <= e <= len(raw) or collapse(raw[s:e]) != r["text"]:
            raise DocModeError(f"document {r['doc_id']!r} of {records} was segmented from another text than the one "
                               f"annotators labelled (record {r['record_id']} does not fit it): publish the records "
                               f"the document-mode project was pushed from")
