"""Records (+ human labels) → an immutable, versioned Parquet release; and the checks and diffs
that read releases back.

Layout of one release (the evaluator and researchers rely on it; keep it exactly):

    RELEASES/NAME/X.Y.Z/
      data/{train,validation,test}-NNNNN-of-NNNNN.parquet   rows ordered by doc_id, position
      manifest.json   fingerprint, name, version, splits, files (sha256, bytes, rows), versions, inputs
      README.md       the dataset card (DATASET_CARD.md rendered), with the Hugging Face YAML header
      croissant.json  MLCommons Croissant metadata
      CHANGELOG.md    against the previous version of the same dataset, or "first release"
      chart.png       records per type per split, label agreement

Publishing is two-phase so that the CLI can run the evaluator on the staged data in between:
`stage` writes data/ and a data-only manifest into a hidden temporary directory next to the final
place; `seal` adds the card, Croissant, changelog and chart and renames the directory into place.
A crash at any point leaves no directory under the final name.

Memory stays bounded as the corpus grows: records are read in batches (pyarrow.dataset), spilled
into one Arrow file per output file, and each output file is sorted on its own; only a document
index, per-record uint64 keys for the near-duplicate check and per-file statistics stay in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import xxhash

from builder import __version__
from builder.checksum import sha256_file
from builder.dedup import DedupReport, NearDuplicates
from builder.errors import BuilderError, InputError, SchemaError
from builder.schema import (
    FIELDS,
    LABEL_STATUSES,
    LABELS_SCHEMA,
    ORIGINS,
    SCHEMA,
    SCHEMA_VERSION,
    TYPE_NAMES,
    arrow_fields,
    stored_fields,
)

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)
LABEL_FIELDS: tuple[str, ...] = tuple(LABELS_SCHEMA["properties"])
LABELS_SCHEMA_VERSION: str = LABELS_SCHEMA["x-schema-version"]

# Parquet writer options, pinned: the same rows give the same bytes. Row groups of 20k records
# (a few MB of text) load fast with `datasets` and still allow streaming; a file holds at most 100k records
# (~50 MB of text), which also bounds the memory of sorting one file.
ZSTD_LEVEL = 9
ROW_GROUP_ROWS = 20_000
MAX_FILE_ROWS = 100_000
READ_BATCH_ROWS = 32_768
# The scanner decodes in the calling thread: with threads, it decodes ahead of a slow consumer
# (the near-duplicate pass) whatever the readahead settings say, ~300 MB at 1M records, against
# ~50 MB here; publishing is single-threaded Python anyway. Nor does it pre-buffer: Arrow's default
# reads ahead the compressed column chunks of a whole file, so one large records file (segment
# --out records.parquet) cost its size in memory (1.16M records in one 196 MB file: 1.03 GB peak).
READAHEAD = {"batch_readahead": 2, "fragment_readahead": 1, "use_threads": False,
             "fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False)}
SPLIT_SALT = b"builder-split-v1\x1f"  # the split of a document is a hash of this + its doc_id

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_DATA_FILE = re.compile(r"(train|validation|test)-(\d{5})-of-(\d{5})\.parquet")


class ReleaseError(BuilderError):
    """A release that cannot be made or read as asked."""


class ReleaseExistsError(ReleaseError):
    """The version is already published: releases never change."""


# ---------------------------------------------------------------------------------------------
# schema of a release


def release_fields() -> list[pa.Field]:
    return stored_fields(SCHEMA) + stored_fields(LABELS_SCHEMA)


def release_features():
    """datasets.Features of a release: every record column, then every label column."""
    import datasets

    from builder.schema import features

    return datasets.Features({**features(SCHEMA), **features(LABELS_SCHEMA)})


@cache
def release_schema() -> pa.Schema:
    """The Arrow schema of every data file, with the datasets features in its metadata so that
    `ClassLabel` names survive in any reader that knows the `huggingface` key."""
    return pa.schema(release_fields(), metadata=release_features().arrow_schema.metadata)


# ---------------------------------------------------------------------------------------------
# small helpers


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def parse_version(version: str) -> tuple[int, int, int]:
    m = _VERSION.fullmatch(version or "")
    if not m:
        raise InputError(f"version {version!r} is not X.Y.Z (three non-negative integers without leading zeros, e.g. 1.2.0)")
    return tuple(int(x) for x in m.groups())


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise InputError(f"dataset name {name!r} is not valid: use lowercase letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit (at most 100 characters)")
    return name


def parse_ratios(text: str) -> tuple[float, float, float]:
    """'80/10/10' or '0.8,0.1,0.1' → (0.8, 0.1, 0.1)."""
    parts = [p for p in re.split(r"[/,:\s]+", text.strip()) if p]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) != 3 or any(x < 0 for x in nums) or sum(nums) <= 0:
        raise InputError(f"ratios {text!r} are not three non-negative numbers for train/validation/test, e.g. 80/10/10")
    total = sum(nums)
    return tuple(round(x / total, 6) for x in nums)


def split_point(doc_id: str) -> float:
    """A document's place in [0, 1): a hash of its id, so it never moves between versions."""
    return int.from_bytes(hashlib.sha256(SPLIT_SALT + doc_id.encode("utf-8")).digest()[:8], "big") / 2.0**64


def split_of(point: float, ratios) -> str:
    edge = 0.0
    for name, r in zip(SPLITS, ratios):
        edge += r
        if point < edge:
            return name
    return next(name for name, r in reversed(list(zip(SPLITS, ratios))) if r > 0)


def fingerprint(name: str, version: str, files: list[dict]) -> str:
    """sha256 over the release's identity and its data files' sha256s: the id a prediction file
    carries. Card, changelog and chart are not part of it."""
    ident = {"name": name, "version": version,
             "files": sorted([f["path"], f["sha256"]] for f in files)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _id_hashes(ids: list) -> np.ndarray:
    return np.fromiter((xxhash.xxh64_intdigest(i.encode()) for i in ids), dtype=np.uint64, count=len(ids))


def _atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# inputs


def record_files(path: Path) -> list[Path]:
    """The Parquet files of RECORDS: one file, or every *.parquet under a directory (any engine's
    part files, in any order), skipping hidden and `_`-prefixed entries (_SUCCESS, .crc)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"records {str(path)!r} do not exist: give a records Parquet file or a directory of Parquet shards")
    files = sorted(p for p in path.rglob("*.parquet")
                   if not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise InputError(f"records directory {str(path)!r} holds no .parquet files: give the output of `builder segment`")
    return files


def _check_columns(schema: pa.Schema, wanted: list[pa.Field], where: str, what: str) -> None:
    for f in wanted:
        i = schema.get_field_index(f.name)
        if i < 0:
            raise SchemaError(f"{where}: column {f.name!r} is missing; {what} need the columns "
                              f"{', '.join(x.name for x in wanted)}")
        if not schema.field(i).type.equals(f.type):
            raise SchemaError(f"{where}: column {f.name!r} is {schema.field(i).type}, expected {f.type} "
                              f"(the schema in schemas/; `type` and `label` are class indices)")


def open_records(path: Path) -> tuple[ds.Dataset, list[Path]]:
    files = record_files(path)
    wanted = arrow_fields(SCHEMA)
    for f in files:
        try:
            schema = pq.read_schema(f)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"{f}: not a readable Parquet file ({e})") from None
        _check_columns(schema, wanted, str(f), "records")
    return ds.dataset([str(f) for f in files], format="parquet",
                      schema=pa.schema(wanted)), files


@dataclass
class Labels:
    """A `builder pull` directory: labels.parquet (record_id + the label columns) and labels.json."""

    path: Path
    dataset: ds.Dataset
    meta: dict
    parquet_sha256: str
    rows: int

    @classmethod
    def open(cls, path) -> Labels:
        path = Path(path)
        parquet, meta_file = path / "labels.parquet", path / "labels.json"
        if not parquet.is_file() or not meta_file.is_file():
            raise InputError(f"labels {str(path)!r} is not a `builder pull` directory: it needs labels.parquet and labels.json")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            schema = pq.read_schema(parquet)
        except (ValueError, pa.ArrowInvalid, OSError) as e:
            raise InputError(f"labels {str(path)!r}: cannot read labels.json / labels.parquet ({e})") from None
        if not isinstance(meta, dict):
            raise InputError(f"{meta_file}: expected a JSON object (project, snapshot, export sha256, counts, alpha)")
        wanted = [pa.field("record_id", pa.string())] + arrow_fields(LABELS_SCHEMA)
        _check_columns(schema, wanted, str(parquet), "labels (schemas/labels.v1.json)")
        dataset = ds.dataset(str(parquet), format="parquet", schema=pa.schema(wanted))
        return cls(path, dataset, meta, sha256_file(parquet), dataset.count_rows())

    def summary(self) -> dict:
        """What the manifest records about the snapshot a release used (labels.json as
        builder/labels.py writes it: project {name, id}, snapshot_id, export_sha256,
        krippendorff_alpha_nominal, label_status counts)."""
        m = self.meta
        project = m.get("project")
        return {
            "project": project.get("name") if isinstance(project, dict) else project,
            "project_id": project.get("id") if isinstance(project, dict) else None,
            "snapshot": m.get("snapshot_id"),
            "sha256": m.get("export_sha256"),
            "labels_parquet_sha256": self.parquet_sha256,
            "alpha": m.get("krippendorff_alpha_nominal"),
            "annotators": len(m.get("annotators") or []),
            "rows": self.rows,
        }

    def check(self) -> np.ndarray:
        """Validate values (record_id unique and non-null, class indices and statuses in range);
        the uint64 hashes of its record ids, to count labels whose record is not released."""
        hashes = []
        for batch in self.dataset.to_batches(columns=["record_id", "label", "label_status", "n_annotators"],
                                             batch_size=READ_BATCH_ROWS, **READAHEAD):
            if batch.column("record_id").null_count:
                raise SchemaError(f"{self.path}/labels.parquet: a row has no record_id")
            lab = batch.column("label")
            mm = pc.min_max(lab).as_py()
            if mm["min"] is not None and (mm["min"] < 0 or mm["max"] >= len(TYPE_NAMES)):
                raise SchemaError(f"{self.path}/labels.parquet: label {mm} out of range; a label is a class index "
                                  f"0..{len(TYPE_NAMES) - 1} ({', '.join(TYPE_NAMES)}) or null")
            bad = set(pc.unique(batch.column("label_status")).to_pylist()) - set(LABEL_STATUSES)
            if bad:
                raise SchemaError(f"{self.path}/labels.parquet: label_status {sorted(map(str, bad))} not one of "
                                  f"{', '.join(LABEL_STATUSES)}")
            hashes.append(_id_hashes(batch.column("record_id").to_pylist()))
        h = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        if len(np.unique(h)) != len(h):
            raise SchemaError(f"{self.path}/labels.parquet: a record_id appears twice; `builder pull` writes one row per record")
        return h


# ---------------------------------------------------------------------------------------------
# stage


@dataclass
class Staged:
    """A release written to a hidden temporary directory, waiting for `seal`."""

    path: Path  # the temporary directory (data/ and a data-only manifest.json inside)
    final: Path  # RELEASES/NAME/X.Y.Z
    name: str
    version: str
    manifest: dict
    stats: dict
    sealed: bool = False

    def discard(self) -> None:
        if not self.sealed:
            shutil.rmtree(self.path, ignore_errors=True)


@dataclass
class _Plan:
    docs: list[str]  # sorted doc ids
    rows: np.ndarray  # rows per doc
    split: list[str]  # split per doc
    files: list[tuple[str, str, list[int]]] = field(default_factory=list)  # (split, file name, doc indices)


def _scan(dataset: ds.Dataset, near: NearDuplicates, bar) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    """Pass 1 over the records: the documents, their sizes, the near-duplicate signatures, and
    value checks that the schema alone cannot make."""
    doc_index: dict[str, int] = {}
    counts: list[int] = []
    id_hashes = []
    seen = {"segmenter_version": set(), "schema_version": set()}
    cols = ["record_id", "doc_id", "text", "type", "segmenter_version", "schema_version"]
    for batch in dataset.to_batches(columns=cols, batch_size=READ_BATCH_ROWS, **READAHEAD):
        for c in ("record_id", "doc_id", "text", "type"):
            if batch.column(c).null_count:
                raise SchemaError(f"records: a row has no {c}; every record needs record_id, doc_id, text and type")
        mm = pc.min_max(batch.column("type")).as_py()
        if mm["min"] is not None and (mm["min"] < 0 or mm["max"] >= len(TYPE_NAMES)):
            raise SchemaError(f"records: type index {mm} out of range; type is a class index 0..{len(TYPE_NAMES) - 1} "
                              f"({', '.join(TYPE_NAMES)})")
        for c in seen:
            seen[c].update(pc.unique(batch.column(c)).to_pylist())
        idx = np.empty(batch.num_rows, dtype=np.int64)
        for i, d in enumerate(batch.column("doc_id").to_pylist()):
            j = doc_index.get(d)
            if j is None:
                j = doc_index[d] = len(counts)
                counts.append(0)
            counts[j] += 1
            idx[i] = j
        id_hashes.append(_id_hashes(batch.column("record_id").to_pylist()))
        near.add(idx, batch.column("text"))
        bar.update(batch.num_rows)
    hashes = np.concatenate(id_hashes) if id_hashes else np.zeros(0, np.uint64)
    if not len(hashes):
        raise InputError("records hold no rows: there is nothing to publish")
    if len(np.unique(hashes)) != len(hashes):
        raise SchemaError("records: a record_id appears more than once (a shard given twice?); record ids are unique")
    if seen["schema_version"] - {SCHEMA_VERSION}:
        raise SchemaError(f"records have schema_version {sorted(map(str, seen['schema_version']))}; this builder "
                          f"publishes schema {SCHEMA_VERSION} only (re-segment them)")
    return doc_index, np.array(counts, dtype=np.int64), hashes, seen


def _plan(doc_index: dict, counts: np.ndarray, roots: np.ndarray, ratios, report: DedupReport,
          max_file_rows: int) -> tuple[_Plan, dict]:
    ids = list(doc_index)  # by index
    points = np.array([split_point(d) for d in ids])
    own = [split_of(p, ratios) for p in points]
    # a group of documents joined by near-duplicates goes where its smallest-hash member goes
    best: dict[int, int] = {}
    for i, r in enumerate(roots.tolist()):
        if r not in best or points[i] < points[best[r]]:
            best[r] = i
    final = [own[best[r]] for r in roots.tolist()]
    report.documents_moved = sum(a != b for a, b in zip(own, final))
    order = sorted(range(len(ids)), key=ids.__getitem__)
    plan = _Plan(docs=[ids[i] for i in order], rows=counts[order], split=[final[i] for i in order])
    for split in SPLITS:
        members = [k for k, s in enumerate(plan.split) if s == split]
        chunks: list[list[int]] = [[]]
        size = 0
        for k in members:
            if chunks[-1] and size + plan.rows[k] > max_file_rows:
                chunks.append([])
                size = 0
            chunks[-1].append(k)
            size += int(plan.rows[k])
        n = len(chunks)
        for i, chunk in enumerate(chunks):
            plan.files.append((split, f"{split}-{i:05d}-of-{n:05d}.parquet", chunk))
    return plan, {d: s for d, s in zip(plan.docs, plan.split)}


def _attach_labels(table: pa.Table, labels: Labels | None) -> tuple[pa.Table, int]:
    """Left-join the label columns by record_id; records without labels get the unlabeled values
    (empty annotator_labels, label null, n_annotators 0, agreement null, label_status unlabeled)."""
    types = {f.name: f.type for f in arrow_fields(LABELS_SCHEMA)}
    n = table.num_rows
    if labels is not None and n:
        found = labels.dataset.to_table(filter=pc.field("record_id").isin(table.column("record_id")))
        idx = pc.index_in(table.column("record_id"), value_set=found.column("record_id"))
        matched = n - idx.null_count
        taken = found.take(idx)
        cols = {name: taken.column(name) for name in LABEL_FIELDS}
    else:
        matched = 0
        cols = {name: pa.nulls(n, types[name]) for name in LABEL_FIELDS}
    cols["annotator_labels"] = pc.fill_null(cols["annotator_labels"], pa.scalar([], types["annotator_labels"]))
    cols["n_annotators"] = pc.fill_null(cols["n_annotators"], pa.scalar(0, pa.int32()))
    cols["label_status"] = pc.fill_null(cols["label_status"], pa.scalar("unlabeled"))
    for name in LABEL_FIELDS:
        table = table.append_column(name, cols[name])
    return table, matched


def _file_stats(table: pa.Table) -> dict:
    types = np.bincount(table.column("type").to_numpy(), minlength=len(TYPE_NAMES))
    status = Counter(table.column("label_status").to_pylist())
    agreement = table.column("agreement").drop_null().to_numpy()
    label = table.column("label")
    labeled = pc.is_valid(label)
    same = pc.sum(pc.and_(labeled, pc.equal(label, table.column("type")))).as_py() or 0
    label_counts = np.bincount(label.drop_null().to_numpy().astype(np.int64), minlength=len(TYPE_NAMES))
    origin = table.column("origin")
    human = pc.equal(origin, "human")
    return {
        "rows": table.num_rows,
        "documents": pc.count_distinct(table.column("doc_id")).as_py() if table.num_rows else 0,
        "types": {n: int(c) for n, c in zip(TYPE_NAMES, types)},
        "labels": {n: int(c) for n, c in zip(TYPE_NAMES, label_counts)},
        "label_status": {s: int(status.get(s, 0)) for s in LABEL_STATUSES},
        "agreement_hist": np.histogram(agreement, bins=10, range=(0.0, 1.0))[0].astype(int).tolist(),
        "agreement_sum": float(agreement.astype(np.float64).sum()),
        "label_equals_type": int(same),
        "origins": {o: int(pc.sum(pc.equal(origin, o)).as_py() or 0) for o in ORIGINS},
        "human_documents": pc.count_distinct(table.column("doc_id").filter(human)).as_py() if table.num_rows else 0,
    }


def _merge_stats(parts: list[dict]) -> dict:
    out = {"rows": 0, "documents": 0, "types": Counter(), "labels": Counter(), "label_status": Counter(),
           "origins": Counter(), "human_documents": 0, "agreement_hist": [0] * 10, "agreement_sum": 0.0,
           "label_equals_type": 0}
    for p in parts:
        for k in ("rows", "documents", "label_equals_type", "human_documents"):
            out[k] += p[k]
        out["agreement_sum"] += p["agreement_sum"]
        for k in ("types", "labels", "label_status", "origins"):
            out[k].update(p[k])
        out["agreement_hist"] = [a + b for a, b in zip(out["agreement_hist"], p["agreement_hist"])]
    for k, names in (("types", TYPE_NAMES), ("labels", TYPE_NAMES), ("label_status", LABEL_STATUSES),
                     ("origins", ORIGINS)):
        out[k] = {n: int(out[k].get(n, 0)) for n in names}
    n = sum(out["agreement_hist"])
    out["agreement_mean"] = round(out["agreement_sum"] / n, 4) if n else None
    out["agreement_sum"] = round(out["agreement_sum"], 6)
    return out


def _write_parquet(table: pa.Table, path: Path) -> None:
    schema = release_schema()
    sorting = [pq.SortingColumn(schema.get_field_index("doc_id")), pq.SortingColumn(schema.get_field_index("position"))]
    with pq.ParquetWriter(path, schema, compression="zstd", compression_level=ZSTD_LEVEL, use_dictionary=True,
                          write_statistics=True, sorting_columns=sorting) as w:
        if table.num_rows:  # an empty split is a file with no row group (datasets rejects a 0-row group)
            w.write_table(table, row_group_size=ROW_GROUP_ROWS)


def _inputs_fingerprint(files: list[Path], root: Path, labels: Labels | None, ratios) -> str:
    """sha256 over the input record files (path relative to RECORDS, sha256), the labels snapshot
    and the split settings: the same inputs give the same fingerprint on any machine."""
    base = root if root.is_dir() else root.parent
    ident = {
        "records": [[str(f.relative_to(base)), sha256_file(f)] for f in files],
        "labels": labels.parquet_sha256 if labels else None,
        "ratios": list(ratios),
        "split_salt": SPLIT_SALT.decode().strip("\x1f"),
        "dedup": DedupReport().params,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def releases_of(out: Path, name: str) -> list[tuple[tuple[int, int, int], Path]]:
    """Published versions of NAME under RELEASES, oldest first (hidden staging directories are not releases)."""
    base = Path(out) / name
    found = []
    if base.is_dir():
        for p in base.iterdir():
            if p.is_dir() and _VERSION.fullmatch(p.name) and (p / "manifest.json").is_file():
                found.append((parse_version(p.name), p))
    return sorted(found)


def stage(records, labels=None, *, name: str, version: str, out, ratios=DEFAULT_RATIOS,
          max_file_rows: int = MAX_FILE_ROWS, progress: bool = False) -> Staged:
    """Write the data files of NAME X.Y.Z and compute the statistics the card needs, into a
    temporary directory next to RELEASES/NAME/X.Y.Z. Refuses an existing version before any work."""
    check_name(name)
    parse_version(version)
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise InputError(f"ratios {ratios} must be three non-negative shares of train/validation/test summing to 1")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file: give the RELEASES directory (created when missing)")
    final = out / name / version
    if final.exists():
        raise ReleaseExistsError(f"{final} already exists: a published version never changes; publish a new version "
                                 f"(latest is {releases_of(out, name)[-1][1].name if releases_of(out, name) else 'none'})")
    from builder import card

    card.template_path()  # seal needs it: fail before the work, not after
    dataset, files = open_records(Path(records))
    lab = Labels.open(labels) if labels is not None else None
    label_hashes = lab.check() if lab else None

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.staging-", dir=final.parent))
    try:
        from tqdm import tqdm

        with tqdm(total=2 * dataset.count_rows(), unit="row", desc=f"publish {name} {version}",
                  disable=not progress) as bar:  # two passes over the records
            return _stage_into(tmp, final, dataset, files, Path(records), lab, label_hashes, name, version, ratios,
                               max_file_rows, bar)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _stage_into(tmp, final, dataset, files, records_root, lab, label_hashes, name, version, ratios,
                max_file_rows, bar) -> Staged:
    (tmp / "near").mkdir()
    near = NearDuplicates(spill_dir=tmp / "near")  # band keys on disk until grouped
    doc_index, counts, record_hashes, seen = _scan(dataset, near, bar)
    roots = near.groups(len(counts))
    shutil.rmtree(tmp / "near")
    plan, split_by_doc = _plan(doc_index, counts, roots, ratios, near.report, max_file_rows)

    # pass 2: spill rows into one Arrow file per output file, then sort and write each alone
    spill = tmp / "spill"
    spill.mkdir()
    dest_of_doc = np.empty(len(doc_index), dtype=np.int64)
    sorted_pos = {d: k for k, d in enumerate(plan.docs)}
    dest_of_sorted = np.empty(len(plan.docs), dtype=np.int64)
    for f_i, (_, _, members) in enumerate(plan.files):
        dest_of_sorted[members] = f_i
    for d, j in doc_index.items():
        dest_of_doc[j] = dest_of_sorted[sorted_pos[d]]
    in_schema = pa.schema(arrow_fields(SCHEMA))
    writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
    try:
        for batch in dataset.to_batches(columns=list(FIELDS), batch_size=READ_BATCH_ROWS, **READAHEAD):
            dest = dest_of_doc[[doc_index[d] for d in batch.column("doc_id").to_pylist()]]
            order = np.argsort(dest, kind="stable")
            bounds = np.flatnonzero(np.diff(dest[order])) + 1
            for part in np.split(order, bounds):
                if not len(part):
                    continue
                f_i = int(dest[part[0]])
                if f_i not in writers:
                    writers[f_i] = pa.ipc.new_file(str(spill / f"{f_i}.arrow"), in_schema)
                writers[f_i].write_batch(batch.take(pa.array(part)))
            bar.update(batch.num_rows)
    finally:
        for w in writers.values():
            w.close()

    data = tmp / "data"
    data.mkdir()
    entries, per_split, matched = [], {s: [] for s in SPLITS}, 0
    for f_i, (split, fname, _) in enumerate(plan.files):
        src = spill / f"{f_i}.arrow"
        if src.exists():
            with pa.memory_map(str(src)) as source:
                table = pa.ipc.open_file(source).read_all()
        else:
            table = in_schema.empty_table()
        table = table.sort_by([("doc_id", "ascending"), ("position", "ascending"), ("record_id", "ascending")])
        table, m = _attach_labels(table, lab)
        matched += m
        try:
            table = table.cast(release_schema())
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise SchemaError(f"records do not fit the release schema ({e}); required columns may not be null") from None
        _write_parquet(table, data / fname)
        src.unlink(missing_ok=True)
        path = data / fname
        meta = pq.read_metadata(path)
        entries.append({"path": f"data/{fname}", "sha256": sha256_file(path), "bytes": path.stat().st_size,
                        "rows": table.num_rows,
                        "num_bytes": sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))})
        per_split[split].append(_file_stats(table))
        del table
    shutil.rmtree(spill)

    files_out = [{k: e[k] for k in ("path", "sha256", "bytes", "rows")} for e in entries]
    splits = {s: {"rows": sum(e["rows"] for e in entries if e["path"].startswith(f"data/{s}-")),
                  "files": [e["path"] for e in entries if e["path"].startswith(f"data/{s}-")]} for s in SPLITS}
    orphan = int(np.isin(label_hashes, record_hashes, invert=True).sum()) if lab is not None else 0
    segmenter_versions = sorted(map(str, seen["segmenter_version"]))
    manifest = {
        "name": name,
        "version": version,
        "fingerprint": fingerprint(name, version, files_out),
        "schema_version": SCHEMA_VERSION,
        "labels_schema_version": LABELS_SCHEMA_VERSION,
        "builder_version": __version__,
        "segmenter_version": segmenter_versions[0] if len(segmenter_versions) == 1 else segmenter_versions,
        "inputs_fingerprint": _inputs_fingerprint(files, records_root, lab, ratios),
        "labels": lab.summary() if lab else None,
        "splits": splits,
        "files": files_out,
        "split_method": {"ratios": dict(zip(SPLITS, ratios)), "hash": "sha256(salt + doc_id)",
                         "salt": SPLIT_SALT.decode().strip("\x1f"), "near_duplicates": near.report.params},
    }
    stats = {
        "splits": {s: {**_merge_stats(per_split[s]), "num_bytes": sum(e["num_bytes"] for e in entries
                                                                      if e["path"].startswith(f"data/{s}-"))}
                   for s in SPLITS},
        "dedup": {k: v for k, v in near.report.__dict__.items() if k != "params"},
        "labels": {"matched": matched, "unmatched": orphan, "meta": lab.meta if lab else None},
        "documents": len(plan.docs),
        "ratios": dict(zip(SPLITS, ratios)),
    }
    stats["total"] = _merge_stats(list(stats["splits"].values()))
    manifest["dedup"] = stats["dedup"]
    _atomic_write(tmp / "manifest.json", canonical_json(manifest))
    return Staged(path=tmp, final=final, name=name, version=version, manifest=manifest, stats=stats)


# ---------------------------------------------------------------------------------------------
# seal

BENCHMARK_KEYS = ("task", "metric", "baseline", "score", "ci_low", "ci_high", "command")


def _check_benchmark(benchmark) -> list[dict]:
    """The evaluator's table: a list of rows {task, metric, baseline, score, ci_low, ci_high,
    command} (or a dict holding it under "rows")."""
    if not benchmark:
        return []
    rows = benchmark.get("rows") if isinstance(benchmark, dict) else benchmark
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ReleaseError("benchmark must be a list of rows {task, metric, baseline, score, ci_low, ci_high, command}")
    for r in rows:
        missing = [k for k in BENCHMARK_KEYS if k not in r]
        if missing:
            raise ReleaseError(f"benchmark row {r!r} lacks {', '.join(missing)}; rows carry {', '.join(BENCHMARK_KEYS)}")
    return rows


def seal(staged: Staged, benchmark=None) -> Path:
    """Render the card, Croissant metadata, changelog and chart, complete the manifest, and rename
    the staged directory to RELEASES/NAME/X.Y.Z. Returns the release directory."""
    from builder import card, croissant  # rendering needs jinja2 and matplotlib; stage does not

    if staged.sealed:
        raise ReleaseError(f"{staged.final} is already sealed")
    try:
        rows = _check_benchmark(benchmark)
        tmp, manifest = staged.path, dict(staged.manifest)
        older = [p for v, p in releases_of(staged.final.parent.parent, staged.name) if v < parse_version(staged.version)]
        previous = older[-1] if older else None
        changes = diff(previous, tmp) if previous else None
        card.chart(staged.stats, tmp / card.CHART)
        (tmp / "CHANGELOG.md").write_text(card.changelog(manifest, changes), encoding="utf-8")
        (tmp / "croissant.json").write_text(canonical_json(croissant.metadata(manifest, staged.stats)), encoding="utf-8")
        (tmp / "README.md").write_text(card.render(manifest, staged.stats, rows, changes), encoding="utf-8")
        manifest["metadata_files"] = [
            {"path": n, "sha256": sha256_file(tmp / n), "bytes": (tmp / n).stat().st_size}
            for n in sorted(("README.md", "croissant.json", "CHANGELOG.md", card.CHART))
        ]
        manifest["previous_version"] = previous.name if previous else None
        _atomic_write(tmp / "manifest.json", canonical_json(manifest))
        if staged.final.exists():
            raise ReleaseExistsError(f"{staged.final} appeared while publishing: a published version never changes")
        try:
            os.rename(tmp, staged.final)
        except OSError as e:
            raise ReleaseExistsError(f"{staged.final} could not be put in place ({e.strerror}): it exists already") from None
    except BaseException:
        staged.discard()
        raise
    staged.sealed = True
    staged.manifest = manifest
    staged.path = staged.final
    return staged.final


def publish(records, labels=None, *, name: str, version: str, out, ratios=DEFAULT_RATIOS, benchmark=None,
            **kw) -> Path:
    """stage + seal in one call (no evaluator in between)."""
    return seal(stage(records, labels, name=name, version=version, out=out, ratios=ratios, **kw), benchmark)


# ---------------------------------------------------------------------------------------------
# reading releases back


def read_manifest(release) -> dict:
    path = Path(release) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{release} is not a release: it has no manifest.json (give RELEASES/NAME/X.Y.Z)") from None
    except ValueError as e:
        raise ReleaseError(f"{path} is not valid JSON ({e})") from None
    for k in ("name", "version", "fingerprint", "splits", "files"):
        if k not in manifest:
            raise ReleaseError(f"{path} lacks {k!r}; a manifest has name, version, fingerprint, splits and files")
    return manifest


def _data_files(release: Path, manifest: dict) -> list[tuple[str, Path]]:
    return [(split, Path(release) / p) for split in SPLITS for p in manifest["splits"].get(split, {}).get("files", [])]


_RECORD_DIGEST_COLS = [f for f in FIELDS if f != "record_id"]


def _digest_batch(batch: pa.RecordBatch) -> tuple[list, np.ndarray, np.ndarray, np.ndarray, list]:
    """Per row: record_id, a digest of the record fields, a digest of the label columns, the label
    (class index or -1) and the label status (Python lists: a batch's, not kept)."""
    strings = []
    for c in _RECORD_DIGEST_COLS:
        strings.append(pc.cast(batch.column(c), pa.string()))
    joined = pc.binary_join_element_wise(*strings, "\x1f", null_handling="replace", null_replacement="\x00")
    rec = np.fromiter((xxhash.xxh64_intdigest(s.encode()) for s in joined.to_pylist()), dtype=np.uint64, count=batch.num_rows)
    label = batch.column("label").fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    status = batch.column("label_status").to_pylist()
    lab_rows = zip(batch.column("annotator_labels").to_pylist(), label.tolist(), batch.column("n_annotators").to_pylist(),
                   batch.column("agreement").to_pylist(), status)
    labd = np.fromiter((xxhash.xxh64_intdigest(repr(r).encode()) for r in lab_rows), dtype=np.uint64, count=batch.num_rows)
    return batch.column("record_id").to_pylist(), rec, labd, label, status


class _Index:
    """One release reduced to sortable per-record digests: ~50 bytes a record (three 8-byte
    digests, label and status codes, the id in an Arrow string array) and its documents' splits.
    Ids become Python strings only for the records a diff lists."""

    def __init__(self, release: Path):
        self.manifest = read_manifest(release)
        ids, hashes, rec, lab, label, status, docs, codes = [], [], [], [], [], [], {}, {}
        for split, path in _data_files(release, self.manifest):
            for batch in _batches_of(path, release):
                i, r, l, lb, st = _digest_batch(batch)
                ids.append(batch.column("record_id"))
                hashes.append(_id_hashes(i))
                rec.append(r)
                lab.append(l)
                label.append(lb.astype(np.int8))  # a class index or -1
                status.append(np.array([codes.setdefault(x, len(codes)) for x in st], dtype=np.int16))
                for d in pc.unique(batch.column("doc_id")).to_pylist():
                    docs[d] = split
        # large_string: one array of all ids may pass string's 2 GiB of offsets (~130M records)
        self.ids = pa.chunked_array(ids, pa.string()).cast(pa.large_string()).combine_chunks()
        self.hash, self.rec, self.lab = (np.concatenate(x) if x else np.zeros(0, np.uint64) for x in (hashes, rec, lab))
        self.label = np.concatenate(label) if label else np.zeros(0, np.int8)
        self.status = np.concatenate(status) if status else np.zeros(0, np.int16)
        self.status_names = [str(x) for x in codes]  # by code
        self.docs = docs
        self.release = Path(release)

    def id_list(self, rows: np.ndarray) -> list[str]:
        """The record ids at these rows, sorted."""
        return sorted(self.ids.take(pa.array(rows, pa.int64())).to_pylist())


def _changed_fields(old: _Index, new: _Index, ids: list[str], limit: int = 50_000) -> dict:
    """For changed records (the first `limit`), which record fields differ."""
    ids = ids[:limit]
    if not ids:
        return {}
    want = pa.array(ids)

    def rows(ix: _Index) -> dict:
        files = [str(p) for _, p in _data_files(ix.release, ix.manifest)]
        t = ds.dataset(files, format="parquet").to_table(columns=list(FIELDS), filter=pc.field("record_id").isin(want))
        return {r["record_id"]: r for r in t.to_pylist()}

    a, b = rows(old), rows(new)
    counts = Counter()
    for i in ids:
        for f in FIELDS:
            if a[i][f] != b[i][f]:
                counts[f] += 1
    return dict(sorted(counts.items()))


def _batches_of(path: Path, release: Path):
    """A data file's record batches; one that does not read as Parquet is one line pointing at verify."""
    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS)
    except (pa.ArrowException, OSError) as e:
        raise ReleaseError(f"{path} cannot be read ({str(e).splitlines()[0]}); run `builder verify {release}`") from None


def _label_name(i: int) -> str:
    return TYPE_NAMES[i] if i >= 0 else "null"


def diff(old, new) -> dict:
    """Records added, removed and changed (any record field), and label changes, by record_id,
    between two releases (or a release and a staged one)."""
    a, b = _Index(Path(old)), _Index(Path(new))
    common, ia, ib = np.intersect1d(a.hash, b.hash, assume_unique=True, return_indices=True)
    added = b.id_list(np.setdiff1d(np.arange(len(b.hash)), ib))
    removed = a.id_list(np.setdiff1d(np.arange(len(a.hash)), ia))
    ch = a.rec[ia] != b.rec[ib]
    changed = b.id_list(ib[ch])
    lch = a.lab[ia] != b.lab[ib]
    label_changed = b.id_list(ib[lch])
    transitions = Counter(f"{_label_name(x)} → {_label_name(y)}" for x, y in zip(a.label[ia[lch]], b.label[ib[lch]]) if x != y)
    status_tr = Counter(f"{x} → {y}" for x, y in zip(map(a.status_names.__getitem__, a.status[ia[lch]].tolist()),
                                                     map(b.status_names.__getitem__, b.status[ib[lch]].tolist())) if x != y)
    moved = sorted(d for d, s in b.docs.items() if d in a.docs and a.docs[d] != s)
    return {
        "old": {k: a.manifest.get(k) for k in ("name", "version", "fingerprint")},
        "new": {k: b.manifest.get(k) for k in ("name", "version", "fingerprint")},
        "counts": {"old_records": len(a.hash), "new_records": len(b.hash), "added": len(added), "removed": len(removed),
                   "changed": len(changed), "unchanged": int(len(common) - ch.sum()), "labels_changed": len(label_changed),
                   "documents_added": len(set(b.docs) - set(a.docs)), "documents_removed": len(set(a.docs) - set(b.docs)),
                   "documents_moved_split": len(moved)},
        "added": added,
        "removed": removed,
        "changed": changed,
        "changed_fields": _changed_fields(a, b, changed),
        "labels_changed": label_changed,
        "label_transitions": dict(sorted(transitions.items())),
        "label_status_transitions": dict(sorted(status_tr.items())),
        "documents_moved_split": moved,
    }


def diff_summary(d: dict, show: int = 20) -> str:
    """The diff for people: counts, then up to `show` ids per list."""
    c = d["counts"]
    o, n = d["old"], d["new"]
    lines = [f"{o['name']} {o['version']} → {n['name']} {n['version']}: {c['old_records']} → {c['new_records']} records",
             f"  added {c['added']}, removed {c['removed']}, changed {c['changed']}, unchanged {c['unchanged']}; "
             f"labels changed {c['labels_changed']}",
             f"  documents added {c['documents_added']}, removed {c['documents_removed']}, "
             f"moved to another split {c['documents_moved_split']}"]
    if d["changed_fields"]:
        lines.append("  changed fields: " + ", ".join(f"{k} {v}" for k, v in d["changed_fields"].items()))
    if d["label_transitions"]:
        lines.append("  label changes: " + ", ".join(f"{k} ({v})" for k, v in d["label_transitions"].items()))
    if d["label_status_transitions"]:
        lines.append("  label status changes: " + ", ".join(f"{k} ({v})" for k, v in d["label_status_transitions"].items()))
    for key in ("added", "removed", "changed", "labels_changed", "documents_moved_split"):
        ids = d[key]
        if ids:
            more = f" … and {len(ids) - show} more" if len(ids) > show else ""
            lines.append(f"  {key.replace('_', ' ')}: {', '.join(ids[:show])}{more}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# verify


def verify(release, *, duplicates: bool = True) -> list[str]:
    """Every way RELEASE differs from what its manifest and the schema promise; empty when it is
    intact. Checks checksums and sizes, the fingerprint, file names, schema and features, row
    counts, order, record_id uniqueness, class indices, documents in one split only, and (unless
    duplicates=False) that no near-duplicate group straddles two splits."""
    release = Path(release)
    manifest = read_manifest(release)
    problems: list[str] = []
    if release.name != manifest["version"] or release.parent.name != manifest["name"]:
        problems.append(f"directory {release.parent.name}/{release.name} does not match manifest {manifest['name']}/{manifest['version']}")
    listed = {f["path"]: f for f in manifest["files"]}
    for entry in [*manifest["files"], *manifest.get("metadata_files", [])]:
        p = release / entry["path"]
        if not p.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        if p.stat().st_size != entry["bytes"]:
            problems.append(f"{entry['path']}: {p.stat().st_size} bytes, manifest says {entry['bytes']}")
        if sha256_file(p) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs from the manifest (the file changed)")
    on_disk = {f"data/{p.name}" for p in (release / "data").glob("*")} if (release / "data").is_dir() else set()
    for extra in sorted(on_disk - set(listed)):
        problems.append(f"{extra}: not in the manifest")
    if fingerprint(manifest["name"], manifest["version"], manifest["files"]) != manifest["fingerprint"]:
        problems.append("fingerprint does not match the name, version and data files' sha256s")
    in_splits = [p for s in SPLITS for p in manifest["splits"].get(s, {}).get("files", [])]
    if sorted(in_splits) != sorted(listed):
        problems.append("splits and files list different data files")
    for s in SPLITS:
        if s not in manifest["splits"]:
            problems.append(f"split {s!r} missing from the manifest")

    expected = release_schema()
    doc_split: dict[str, str] = {}
    hashes = []
    # the band keys go to a temporary folder, removed when verify returns (or its object is collected)
    spill = tempfile.TemporaryDirectory(prefix="builder-verify-") if duplicates else None
    near = NearDuplicates(spill_dir=Path(spill.name)) if spill is not None else None
    doc_index: dict[str, int] = {}
    doc_of_index: list[str] = []
    for split in SPLITS:
        files = manifest["splits"].get(split, {}).get("files", [])
        rows_total, last_key = 0, None
        for k, rel in enumerate(files):
            m = _DATA_FILE.fullmatch(Path(rel).name)
            if not m or m.group(1) != split or int(m.group(2)) != k or int(m.group(3)) != len(files):
                problems.append(f"{rel}: name is not {split}-{k:05d}-of-{len(files):05d}.parquet")
            p = release / rel
            if not p.is_file():
                continue
            try:
                pf = pq.ParquetFile(p)
                schema = pf.schema_arrow
                # (Parquet names a list's item `element`; pyarrow's default is `item`: not a difference)
                if not schema.equals(expected) or schema.metadata != expected.metadata:
                    problems.append(f"{rel}: schema or features metadata differ from the release schema")
                    continue
                rows = pf.metadata.num_rows
                if listed.get(rel, {}).get("rows") != rows:
                    problems.append(f"{rel}: {rows} rows, manifest says {listed.get(rel, {}).get('rows')}")
                rows_total += rows
                for batch in pf.iter_batches(batch_size=READ_BATCH_ROWS):
                    problems.extend(f"{rel}: {x}" for x in _check_values(batch))
                    docs = batch.column("doc_id").to_pylist()
                    pos = batch.column("position").to_pylist()
                    for d, q in zip(docs, pos):
                        key = (d, q)
                        if last_key is not None and key < last_key:
                            problems.append(f"{rel}: rows are not ordered by doc_id, position at {d!r} {q}")
                            break
                        last_key = key
                    for d in set(docs):
                        prev = doc_split.setdefault(d, split)
                        if prev != split:
                            problems.append(f"document {d!r} is in both {prev} and {split}")
                    hashes.append(_id_hashes(batch.column("record_id").to_pylist()))
                    if near is not None:
                        idx = np.empty(len(docs), dtype=np.int64)
                        for i, d in enumerate(docs):
                            j = doc_index.get(d)
                            if j is None:
                                j = doc_index[d] = len(doc_of_index)
                                doc_of_index.append(d)
                            idx[i] = j
                        near.add(idx, batch.column("text"))
            except (pa.ArrowException, OSError) as e:
                problems.append(f"{rel}: cannot be read as Parquet ({str(e).splitlines()[0]})")
        if manifest["splits"].get(split, {}).get("rows") != rows_total:
            problems.append(f"split {split}: {rows_total} rows in its files, manifest says {manifest['splits'].get(split, {}).get('rows')}")
    h = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    if len(np.unique(h)) != len(h):
        problems.append(f"{len(h) - len(np.unique(h))} record_id(s) appear more than once")
    if near is not None and doc_of_index:
        roots = near.groups(len(doc_of_index))
        where: dict[int, set] = {}
        for j, r in enumerate(roots.tolist()):
            where.setdefault(r, set()).add(doc_split[doc_of_index[j]])
        leaks = sum(len(s) > 1 for s in where.values())
        if leaks:
            problems.append(f"{leaks} group(s) of near-duplicate documents straddle two splits")
    if spill is not None:
        spill.cleanup()
    return problems


def _check_values(batch: pa.RecordBatch) -> list[str]:
    out = []
    for col in ("type", "label"):
        mm = pc.min_max(batch.column(col)).as_py()
        if mm["min"] is not None and (mm["min"] < 0 or mm["max"] >= len(TYPE_NAMES)):
            out.append(f"{col} class index outside 0..{len(TYPE_NAMES) - 1}")
    bad = set(pc.unique(batch.column("label_status")).to_pylist()) - set(LABEL_STATUSES)
    if bad:
        out.append(f"label_status {sorted(map(str, bad))} not one of {', '.join(LABEL_STATUSES)}")
    if pc.all(pc.equal(pc.list_value_length(batch.column("annotator_labels")).cast(pa.int32()),
                       batch.column("n_annotators"))).as_py() is False:
        out.append("n_annotators differs from the number of annotator_labels")
    return out
