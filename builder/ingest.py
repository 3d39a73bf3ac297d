"""Files → raw documents, streamed: one small reader per format, no parsing of content.

Inputs are files or directories (walked recursively in sorted path order; hidden names are
skipped). Formats, by extension:

  .txt               one document per file; doc_id is the file stem
  .jsonl / .ndjson   one JSON object per line
  .csv               one document per row (header row required; quoted multi-line fields)
  .parquet           one document per row, read in record batches
  (.txt, .jsonl, .ndjson and .csv may also be gzipped: NAME.jsonl.gz)

Table formats take the id, text, title, url and domain from fields/columns (`Fields`). Nothing
is held beyond the current file (a .txt) or the current row, so a corpus of any size streams.

Text is decoded strict UTF-8 first, then cp1252, then latin-1 (which always succeeds); the codec
used travels in Document.encoding. Newlines are kept exactly as decoded (`\\r\\n` stays), because
record offsets index that text.

Nothing is dropped silently: an empty, binary or undecodable document, a row without an id or a
text, a malformed row, an unreadable file and a duplicate doc_id each come out as a `Rejected`
entry with its reason, in input order, and the caller carries on. Problems with the run itself
(a missing path, an unknown extension, a table without the named column) raise InputError
before any document is read.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import orjson

from builder.document import Document
from builder.errors import InputError

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES
GZIP = ".gz"  # .txt, .jsonl, .ndjson and .csv may be gzip-compressed (read as a stream)

_BOM = b"\xef\xbb\xbf"
ENCODINGS = ("utf-8", "cp1252", "latin-1")  # tried in this order; latin-1 decodes any byte string
MAX_CONTROL_SHARE = 0.02  # above this share of control characters, a "text" is binary data
PARQUET_BATCH_ROWS = 1024

# C0 controls other than \t \n \v \f \r, DEL and the C1 controls: what text almost never contains,
# and what binary data decoded as latin-1 is full of. Counted in the text's UTF-8 bytes, where C0
# and DEL are single bytes that no other character's bytes contain, and a C1 control is \xc2 then
# \x80-\x9f: two passes of C code instead of a regular expression over every character (30 -> 14
# us per 5 KB document; test_ingest checks the count is the pattern's).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_C0_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")

# Python's csv refuses fields over 128 KiB by default; a scraped page with its comments can be
# far longer. The C long bounds the limit on every platform.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# --------------------------------------------------------------------------- what ingest yields


@dataclass(frozen=True, slots=True)
class Ingested:
    """A document ready for the segmenter, and where it came from."""

    doc: Document
    source: str
    location: str | None = None  # "line 12" / "row 3" inside a table file; None for a .txt


@dataclass(frozen=True, slots=True)
class Rejected:
    """Something that could not become a document. `kind` is a short code (counted in the run
    report); `reason` says what was wrong in words."""

    source: str
    kind: str
    reason: str
    doc_id: str | None = None
    location: str | None = None

    def as_json(self) -> dict:
        return {"doc_id": self.doc_id, "source": self.source, "location": self.location,
                "kind": self.kind, "reason": self.reason}


# Rejection kinds, in the order the run report lists them.
EMPTY = "empty"
BINARY = "binary"
UNDECODABLE = "undecodable"
MALFORMED = "malformed"
MISSING_ID = "missing_id"
MISSING_TEXT = "missing_text"
DUPLICATE_ID = "duplicate_id"
UNREADABLE = "unreadable"


class _Reject(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


# --------------------------------------------------------------------------- field names


@dataclass(frozen=True)
class Fields:
    """Which field/column of a table holds what. None: the first of the default names that the
    table has (and for id and text, an error if it has none); a name: exactly that column."""

    id: str | None = None
    text: str | None = None
    title: str | None = None
    url: str | None = None
    domain: str | None = None

    DEFAULTS = {
        "id": ("id", "doc_id"),
        "text": ("text", "content"),
        "title": ("title",),
        "url": ("url",),
        "domain": ("domain",),
    }
    REQUIRED = ("id", "text")
    OPTION = {"id": "--id-field", "text": "--text-field", "title": "--title-field",
              "url": "--url-field", "domain": "--domain-field"}

    def resolve(self, columns: Iterable[str], source: str) -> dict[str, str | None]:
        """Role → column name for a table with these columns; InputError when a named column, or
        any id/text column, is missing."""
        columns = list(columns)
        have = set(columns)
        out: dict[str, str | None] = {}
        for role, defaults in self.DEFAULTS.items():
            named = getattr(self, role)
            if named is not None:
                if named not in have:
                    raise InputError(f"{source}: no column {named!r} ({self.OPTION[role]}); "
                                     f"its columns are: {_names(columns)}")
                out[role] = named
                continue
            out[role] = next((c for c in defaults if c in have), None)
            if out[role] is None and role in self.REQUIRED:
                raise InputError(f"{source}: no {role} column (looked for {_names(defaults)}); its columns "
                                 f"are: {_names(columns)}; name one with {self.OPTION[role]}")
        return out

    def resolve_row(self, row: Mapping) -> dict[str, str | None]:
        """Like resolve, for one JSON object: a missing field is None, left to the row check."""
        out: dict[str, str | None] = {}
        for role, defaults in self.DEFAULTS.items():
            named = getattr(self, role)
            out[role] = named if named is not None else next((c for c in defaults if c in row), None)
        return out

    def describe(self, role: str) -> str:
        """The field(s) a role is read from, for messages."""
        named = getattr(self, role)
        if named is not None:
            return repr(named)
        return f"{' or '.join(repr(c) for c in self.DEFAULTS[role])} (name another with {self.OPTION[role]})"


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names) or "(none)"


# --------------------------------------------------------------------------- finding the files


def find_files(inputs: Iterable[os.PathLike | str], exclude: Iterable[os.PathLike | str] = ()) -> list[Path]:
    """The files to read, in order: each input as given; a directory's files recursively, sorted by
    path, hidden names (starting with '.') skipped. `exclude` are paths (files or directories) that
    are never read, e.g. the run's own output. Raises InputError for a missing path or a file of
    an unknown type, before anything is read."""
    try:
        return _find_files(inputs, exclude)
    except OSError as e:  # e.g. a name too long, a folder that cannot be listed
        raise InputError(f"{e.filename}: cannot read: {e.strerror or e}") from None


def _find_files(inputs, exclude) -> list[Path]:
    # Compared as strings of resolved paths (a path is inside a folder when it starts with the folder
    # and a separator), and a folder's files resolved from the folder's own resolved path (the
    # file itself only when it is a link): Path.resolve and Path.parents for every file made this
    # ~65 us a file, two thirds of reading a folder of .txt pages; now ~8.
    excluded = {os.path.realpath(p) for p in exclude}
    folders = tuple(e.rstrip(os.sep) + os.sep for e in excluded)

    def is_excluded(resolved: str) -> bool:
        return resolved in excluded or resolved.startswith(folders)

    files: list[Path] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = []  # (path relative to the input, as parts; the file; its resolved path)
            for root, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                where = Path(root).relative_to(path).parts
                real = os.path.realpath(root)
                for n in names:
                    if not n.startswith("."):
                        p = os.path.join(root, n)
                        resolved = os.path.realpath(p) if os.path.islink(p) else os.path.join(real, n)
                        found.append(((*where, n), p, resolved))
            found.sort(key=itemgetter(0))
            for _, p, resolved in found:
                if is_excluded(resolved):
                    continue
                p = Path(p)
                _check_suffix(p)
                files.append(p)
        elif path.exists():
            if not is_excluded(os.path.realpath(path)):
                _check_suffix(path)
                files.append(path)
        else:
            raise InputError(f"{given}: no such file or directory")
    return files


def _suffix(path: Path) -> str:
    """The format suffix: `.jsonl` for both x.jsonl and x.jsonl.gz. PurePath.suffix's rule on the
    name (asked three times per file: a Path made for it cost more than reading a small page)."""
    name = path.name.lower().removesuffix(GZIP)
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _check_suffix(path: Path) -> None:
    suffix = _suffix(path)
    gz = path.name.lower().endswith(GZIP)
    if suffix not in SUFFIXES or (gz and suffix in PARQUET_SUFFIXES):
        shown = "".join(path.suffixes[-2:]) if gz else path.suffix
        raise InputError(f"{path}: unsupported file type {shown or '(no extension)'!r}; supported: "
                         f"{', '.join(SUFFIXES)}, the first four also gzipped (.gz) (or a directory of them)")


def _open(path: Path, meter: ReadMeter | None = None):
    """A binary stream of the file's content, decompressed when it ends in .gz."""
    raw = path.open("rb")
    if meter is not None:
        meter._raw = raw
    if path.name.lower().endswith(GZIP):
        return _Gunzip(raw)
    return raw


class _Gunzip(gzip.GzipFile):
    """gzip over a file this module opened (to know how far into it reading is), closing both."""

    def __init__(self, raw) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


class ReadMeter:
    """How far reading has got, in bytes of the input files (compressed bytes for .gz), for a
    progress bar: `total` once the files are known, `done()` at any time."""

    def __init__(self) -> None:
        self.total = 0
        self._base = 0  # bytes of the files already read through
        self._raw = None  # the file being read

    def done(self) -> int:
        raw = self._raw
        try:
            pos = raw.tell() if raw is not None and not raw.closed else 0
        except (OSError, ValueError):
            pos = 0
        return min(self._base + pos, self.total)

    def _next_file(self, size: int) -> None:
        self._base += size
        self._raw = None


def check_tables(files: Iterable[Path], fields: Fields) -> None:
    """Read the header of every CSV and the schema of every Parquet file and check that the id and
    text columns are there, so a wrong --text-field fails at once rather than after hours."""
    for path in files:
        suffix = _suffix(path)
        if suffix in CSV_SUFFIXES:
            header = _csv_header(path)
            if header is not None:
                fields.resolve(header, str(path))
        elif suffix in PARQUET_SUFFIXES:
            fields.resolve(_parquet_file(path).schema_arrow.names, str(path))


# --------------------------------------------------------------------------- decoding


def decode(raw: bytes) -> tuple[str, str]:
    """Bytes → (text, codec name). Raises _Reject for binary data (NUL bytes)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise _Reject(UNDECODABLE, f"starts with a UTF-16 byte-order mark but is not UTF-16 ({e.reason})")
    if b"\x00" in raw:
        raise _Reject(BINARY, "binary data: contains NUL bytes")
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    for codec in ENCODINGS:
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")


def count_controls(text: str) -> int:
    """len(_CONTROL.findall(text)), faster (see _CONTROL)."""
    raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate (from a JSON escape) is no control
    n = len(raw) - len(raw.translate(None, _C0_BYTES))
    if b"\xc2" in raw:
        n += len(_C1_UTF8.findall(raw))
    return n


def check_text(text: str) -> None:
    """Raises _Reject unless `text` is something to segment."""
    if not text or text.isspace():
        raise _Reject(EMPTY, "empty document: no text other than whitespace")
    if "\x00" in text:
        raise _Reject(BINARY, "binary data: contains NUL characters")
    n = count_controls(text)
    if n and n > MAX_CONTROL_SHARE * len(text):
        raise _Reject(BINARY, f"binary data: {n / len(text):.0%} of the characters are control characters "
                              f"(at most {MAX_CONTROL_SHARE:.0%} in text)")


# --------------------------------------------------------------------------- reading


def read_documents(inputs: Iterable[os.PathLike | str], fields: Fields = Fields(),
                   exclude: Iterable[os.PathLike | str] = (), meter: ReadMeter | None = None
                   ) -> Iterator[Ingested | Rejected]:
    """Every document of the inputs, in order, as Ingested; everything that could not become one,
    at its place in that order, as Rejected. Raises InputError (before yielding anything) for a
    missing path, an unsupported file or a table without its id/text column. A `meter` follows
    how many bytes of the files have been read."""
    files = find_files(inputs, exclude)
    check_tables(files, fields)
    sizes = None
    if meter is not None:  # a stat per file only for a progress bar
        sizes = [_size(p) for p in files]
        meter.total = sum(sizes)
    return _read_files(files, fields, meter, sizes)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_files(files: list[Path], fields: Fields, meter: ReadMeter | None = None,
                sizes: list[int] | None = None) -> Iterator[Ingested | Rejected]:
    # doc_id → where it was first read, packed as file index << 32 | line/row number (0 for a
    # .txt): one small int per document rather than a string, as this map grows with the corpus.
    seen: dict[str, int] = {}
    for index, path in enumerate(files):
        source = str(path)
        suffix = _suffix(path)
        reader = (_read_txt if suffix in TEXT_SUFFIXES else _read_jsonl if suffix in JSONL_SUFFIXES
                  else _read_csv if suffix in CSV_SUFFIXES else _read_parquet)
        try:
            for item in reader(path, source, fields, meter):
                if isinstance(item, Ingested):
                    doc_id = item.doc.doc_id
                    first = seen.get(doc_id)
                    if first is not None:
                        item = Rejected(source, DUPLICATE_ID, f"duplicate doc_id {doc_id!r}: first read from "
                                        f"{_where(files, first)}", doc_id, item.location)
                    else:
                        n = int(item.location.rpartition(" ")[2]) if item.location else 0
                        seen[doc_id] = index << 32 | n
                yield item
        except (OSError, EOFError, zlib.error) as e:  # EOFError, zlib.error: a truncated or corrupt .gz
            yield Rejected(source, UNREADABLE, f"cannot read the file: {getattr(e, 'strerror', None) or e}")
        if meter is not None:
            meter._next_file(sizes[index] if sizes else 0)


def _where(files: list[Path], packed: int) -> str:
    path, n = files[packed >> 32], packed & 0xFFFFFFFF
    if not n:
        return str(path)
    return f"{path} ({'row' if _suffix(path) in PARQUET_SUFFIXES else 'line'} {n})"


def _read_txt(path: Path, source: str, fields: Fields, meter: ReadMeter | None = None
              ) -> Iterator[Ingested | Rejected]:
    name = path.name[: -len(GZIP)] if path.name.lower().endswith(GZIP) else path.name
    doc_id = Path(name).stem
    with _open(path) as f:
        raw = f.read()
    try:
        text, encoding = decode(raw)
        check_text(text)
    except _Reject as r:
        yield Rejected(source, r.kind, r.reason, doc_id)
        return
    yield Ingested(Document(doc_id=doc_id, text=text, encoding=encoding), source)


def _row_item(row: Mapping, cols: Mapping[str, str | None], fields: Fields, source: str, location: str,
              encoding: str) -> Ingested | Rejected:
    """One table row → a document, or why not."""
    raw_id = row.get(cols["id"]) if cols["id"] is not None else None
    if isinstance(raw_id, (dict, list, bool)):  # str() would make an id of Python's spelling of it
        return Rejected(source, MISSING_ID, f"no id: field {cols['id']!r} is a {type(raw_id).__name__}, not a "
                                            f"string or a number", None, location)
    doc_id = None if raw_id is None else str(raw_id)
    if doc_id is None or not doc_id.strip():
        return Rejected(source, MISSING_ID, f"no id: field {fields.describe('id')} is missing or empty",
                        None, location)
    text = row.get(cols["text"]) if cols["text"] is not None else None
    if isinstance(text, bytes):
        try:
            text, encoding = decode(text)
        except _Reject as r:
            return Rejected(source, r.kind, r.reason, doc_id, location)
    if text is None:
        return Rejected(source, MISSING_TEXT, f"no text: field {fields.describe('text')} is missing or null",
                        doc_id, location)
    if not isinstance(text, str):
        return Rejected(source, MISSING_TEXT, f"no text: field {cols['text']!r} is a {type(text).__name__}, "
                                              f"not a string", doc_id, location)
    try:
        check_text(text)
    except _Reject as r:
        return Rejected(source, r.kind, r.reason, doc_id, location)

    def optional(role: str) -> str | None:
        col = cols[role]
        value = row.get(col) if col is not None else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        value = None if value is None else str(value)
        return value if value and value.strip() else None

    doc = Document(doc_id=doc_id, text=text, title=optional("title"), url=optional("url"),
                   domain=optional("domain"), encoding=encoding)
    return Ingested(doc, source, location)


def _decode_line(raw: bytes) -> tuple[str, str]:
    for codec in ENCODINGS:
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")


def _loads(raw: bytes) -> tuple[object, str]:
    """One JSONL line → (its value, the codec of its bytes), its top-level values as json.loads gives
    them from the line decoded by _decode_line, with json's own error messages. orjson parses the
    common line, UTF-8 JSON without a float at the top level, 3x faster. Everything else goes to json: bytes that are not UTF-8, what
    orjson refuses and json takes (NaN, 1e400, a lone surrogate escape), invalid JSON (for json's
    message), and any float, since orjson turns an integer of 20 digits or more into one."""
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if type(row) is dict:
            if float not in set(map(type, row.values())):
                return row, "utf-8"
        elif type(row) is not float:
            return row, "utf-8"
    line, encoding = _decode_line(raw)
    return json.loads(line), encoding


def _read_jsonl(path: Path, source: str, fields: Fields, meter: ReadMeter | None = None
                ) -> Iterator[Ingested | Rejected]:
    any_line = False
    with _open(path, meter) as f:
        for n, raw in enumerate(f, start=1):
            if n == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if not raw or raw.isspace():
                continue
            any_line = True
            location = f"line {n}"
            try:
                row, encoding = _loads(raw)
            except json.JSONDecodeError as e:
                yield Rejected(source, MALFORMED, f"invalid JSON: {e.msg} at column {e.colno}", None, location)
                continue
            except RecursionError:  # orjson refuses depth > 1024, and json then runs out of stack
                yield Rejected(source, MALFORMED, "invalid JSON: nested too deeply to read", None, location)
                continue
            if not isinstance(row, dict):
                yield Rejected(source, MALFORMED, f"a JSON {type(row).__name__}, not an object", None, location)
                continue
            yield _row_item(row, fields.resolve_row(row), fields, source, location, encoding)
    if not any_line:
        yield Rejected(source, EMPTY, "empty file: no JSON lines")


class _DecodedLines:
    """Binary lines → text lines for csv.reader, each decoded on its own (so one cp1252 line does
    not decide the codec of the file); remembers the least common codec since the last take()."""

    def __init__(self, f) -> None:
        self._f = f
        self._codec = ENCODINGS[0]
        self._first = True

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = next(self._f)
        if self._first:  # spreadsheet exports start with a BOM, which would stick to the first column's name
            self._first = False
            raw = raw.removeprefix(_BOM)
        line, codec = _decode_line(raw)
        if ENCODINGS.index(codec) > ENCODINGS.index(self._codec):
            self._codec = codec
        return line

    def take(self) -> str:
        codec, self._codec = self._codec, ENCODINGS[0]
        return codec


def _csv_header(path: Path) -> list[str] | None:
    """The header row; None for an empty or unreadable file (reading it will say why)."""
    try:
        with _open(path) as f:
            return next(csv.reader(_DecodedLines(f)))
    except StopIteration:
        return None
    except (OSError, EOFError, zlib.error):
        return None
    except csv.Error as e:
        raise InputError(f"{path}: cannot read the CSV header: {e}") from None


def _read_csv(path: Path, source: str, fields: Fields, meter: ReadMeter | None = None
              ) -> Iterator[Ingested | Rejected]:
    with _open(path, meter) as f:
        lines = _DecodedLines(f)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            yield Rejected(source, EMPTY, "empty file: no header row")
            return
        cols = fields.resolve(header, source)
        lines.take()
        rows = 0
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                yield Rejected(source, MALFORMED, f"malformed CSV from line {start}: {e}; the rest of the file "
                                                  f"is not read", None, f"line {start}")
                return
            encoding = lines.take()
            if not values:
                continue  # a blank line
            rows += 1
            location = f"line {start}"
            if len(values) != len(header):
                yield Rejected(source, MALFORMED, f"{len(values)} fields where the header has {len(header)}",
                               None, location)
                continue
            yield _row_item(dict(zip(header, values)), cols, fields, source, location, encoding)
        if rows == 0:
            yield Rejected(source, EMPTY, "empty file: a header row but no data rows")


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError with its own wording
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None


def _read_parquet(path: Path, source: str, fields: Fields, meter: ReadMeter | None = None
                  ) -> Iterator[Ingested | Rejected]:
    pf = _parquet_file(path)
    cols = fields.resolve(pf.schema_arrow.names, source)
    wanted = sorted({c for c in cols.values() if c is not None})
    if pf.metadata.num_rows == 0:
        yield Rejected(source, EMPTY, "empty file: no rows")
        return
    import pyarrow as pa

    n = 0
    batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except pa.ArrowException as e:
            yield Rejected(source, MALFORMED, f"unreadable Parquet data after row {n}: {e}; the rest of the file "
                                              f"is not read", None, f"row {n + 1}")
            return
        for row in batch.to_pylist():
            n += 1
            yield _row_item(row, cols, fields, source, f"row {n}", "utf-8")
