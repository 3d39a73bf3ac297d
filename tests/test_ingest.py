"""Ingest: files → documents or reasoned rejections, per format, in a deterministic order."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.errors import BuilderError, InputError
from builder.ingest import Fields, Ingested, Rejected, decode, find_files, read_documents
from tests.helpers import SHARED, need_shared

ARTICLE = ("Harbor Board Approves Ferry Schedule\n\nThe harbor board voted on Tuesday to keep the winter ferry "
           "running.\n\n\u201cWe heard the islanders,\u201d the chair said.\n")


def read(*paths, **kw) -> list[Ingested | Rejected]:
    return list(read_documents(paths, **kw))


def docs(items) -> list[Ingested]:
    return [i for i in items if isinstance(i, Ingested)]


def rejected(items) -> list[Rejected]:
    return [i for i in items if isinstance(i, Rejected)]


# --------------------------------------------------------------------------- paths


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such file or directory") as e:
        read(tmp_path / "nope.txt")
    assert isinstance(e.value, BuilderError) and "\n" not in str(e.value)


def test_unknown_extension_is_a_clear_error_naming_the_valid_ones(tmp_path):
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(InputError, match=r"unsupported file type '\.md'.*\.txt.*\.jsonl.*\.csv.*\.parquet"):
        read(tmp_path / "notes.md")
    with pytest.raises(InputError, match="notes.md"):  # inside a directory too: nothing is skipped silently
        read(tmp_path)


def test_directories_are_walked_recursively_in_sorted_order_hidden_names_skipped(tmp_path):
    for rel in ["b/z.txt", "b/a.txt", "a.txt", "c/d/e.txt", ".hidden/x.txt", "b/.y.txt"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"text of {rel}\n")
    assert [p.relative_to(tmp_path).as_posix() for p in find_files([tmp_path])] == \
        ["a.txt", "b/a.txt", "b/z.txt", "c/d/e.txt"]
    # inputs keep the order they are given in
    got = [i.doc.doc_id for i in docs(read(tmp_path / "c", tmp_path / "a.txt"))]
    assert got == ["e", "a"]


def test_excluded_paths_are_not_read(tmp_path):
    (tmp_path / "in.txt").write_text(ARTICLE)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "part-00000.parquet").write_bytes(b"PAR1")
    assert [p.name for p in find_files([tmp_path], exclude=[tmp_path / "out"])] == ["in.txt"]


def test_excluded_paths_are_compared_after_resolving_links(tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    (folder / "outs").mkdir(parents=True)
    (folder / "outs" / "r.parquet").write_bytes(b"PAR1")
    for name in ("a.txt", "b.txt", "outsider.txt"):  # outsider.txt: the excluded folder's name is its prefix
        (folder / name).write_text(ARTICLE)
    (folder / "to_b.txt").symlink_to(folder / "b.txt")  # a link to an excluded file is that file
    (tmp_path / "via").symlink_to(folder, target_is_directory=True)  # the input reached through a link
    monkeypatch.chdir(tmp_path)
    got = find_files(["via"], exclude=["docs/b.txt", folder / "outs"])
    assert [p.as_posix() for p in got] == ["via/a.txt", "via/outsider.txt"]
    assert find_files(["via/to_b.txt", "docs/a.txt"], exclude=[folder / "b.txt"]) == [Path("docs/a.txt")]


@pytest.mark.parametrize("name", ["a.txt", "A.JSONL", "a.jsonl.gz", "a.CSV.GZ", "a.gz", ".gz", ".txt", "a.", "a..txt",
                                  "x.tar.gz", "noext", ".hidden.txt", "a.txt.", "a .txt", "a.GZ.gz", "\u00e4.TXT"])
def test_the_format_suffix_is_pathlibs_suffix_without_gz(name):
    from builder.ingest import _suffix

    lowered = name.lower()
    assert _suffix(Path("/d", name)) == Path(lowered[:-3] if lowered.endswith(".gz") else lowered).suffix


def test_a_link_loop_in_a_folder_is_quarantined_as_unreadable(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    (tmp_path / "x.txt").symlink_to(tmp_path / "y.txt")
    (tmp_path / "y.txt").symlink_to(tmp_path / "x.txt")
    items = read(tmp_path)
    assert [i.doc.doc_id for i in docs(items)] == ["a"]
    assert [(r.kind, Path(r.source).name) for r in rejected(items)] == [("unreadable", "x.txt"), ("unreadable", "y.txt")]


# --------------------------------------------------------------------------- .txt and decoding


def test_txt_document_keeps_its_text_exactly_and_its_stem_as_id(tmp_path):
    text = ARTICLE.replace("\n", "\r\n")
    (tmp_path / "ferry.2024.txt").write_bytes(text.encode("utf-8"))
    [item] = read(tmp_path / "ferry.2024.txt")
    assert item.doc.doc_id == "ferry.2024"
    assert item.doc.text == text and "\r\n" in item.doc.text  # offsets index this exact text
    assert item.doc.encoding == "utf-8" and item.doc.title is None
    assert item.source == str(tmp_path / "ferry.2024.txt")


def test_empty_and_whitespace_only_files_are_quarantined(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"")
    (tmp_path / "b.txt").write_bytes(b" \n\t\r\n")
    items = read(tmp_path)
    assert [(r.doc_id, r.kind) for r in items] == [("a", "empty"), ("b", "empty")]


def test_binary_files_are_quarantined(tmp_path):
    (tmp_path / "nul.txt").write_bytes(b"PK\x03\x04\x00\x00binary zip header")
    (tmp_path / "ctl.txt").write_bytes(bytes(range(1, 9)) * 40 + b"a few letters")
    items = read(tmp_path)
    assert [(r.doc_id, r.kind) for r in items] == [("ctl", "binary"), ("nul", "binary")]
    assert "control characters" in items[0].reason and "NUL" in items[1].reason


def test_cp1252_file_is_decoded_and_its_encoding_recorded(tmp_path):
    raw = "\u201cCaf\u00e9 prices rose,\u201d the owner said \u2014 again.\n".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    (tmp_path / "cafe.txt").write_bytes(raw)
    [item] = read(tmp_path / "cafe.txt")
    assert item.doc.text == "\u201cCaf\u00e9 prices rose,\u201d the owner said \u2014 again.\n"
    assert item.doc.encoding == "cp1252"


def test_decoding_chain():
    assert decode("na\u00efve".encode("utf-8")) == ("na\u00efve", "utf-8")
    assert decode(b"\xef\xbb\xbfhello") == ("hello", "utf-8-sig")
    assert decode("\u2019".encode("cp1252")) == ("\u2019", "cp1252")
    # 0x81 is undefined in cp1252: latin-1 takes it
    assert decode(b"caf\xe9 \x81 ok") == ("caf\u00e9 \x81 ok", "latin-1")
    assert decode("two words".encode("utf-16")) == ("two words", "utf-16")


# --------------------------------------------------------------------------- .jsonl


def write_jsonl(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def test_jsonl_rows_become_documents_and_bad_rows_are_quarantined_with_reasons(tmp_path):
    p = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "d1", "text": ARTICLE.replace("\n", "\r\n"), "title": "Ferry", "url": "https://www.harbor.example/a"},
        "",
        "{not json",
        "[1, 2]",
        {"text": ARTICLE},
        {"id": "d3", "text": None},
        {"id": "d4", "text": 42},
        {"id": "d5", "text": "   "},
        {"id": 7, "text": ARTICLE, "domain": "given.example", "url": "https://other.example/x"},
        {"id": "d1", "text": "a second document with the first one's id"},
        {"id": {"x": 1}, "text": ARTICLE},  # not an id: str() would make one of Python's spelling of it
        {"id": True, "text": ARTICLE},
    ])
    items = read(p)
    assert len(items) == 11  # the blank line is not a row
    ok = docs(items)
    assert [d.doc.doc_id for d in ok] == ["d1", "7"]
    d1 = ok[0].doc
    assert "\r\n" in d1.text and d1.title == "Ferry" and d1.url == "https://www.harbor.example/a"
    assert d1.domain == "harbor.example" and ok[0].location == "line 1"
    assert ok[1].doc.domain == "given.example"  # a given domain wins over the URL's
    kinds = [(r.location, r.kind) for r in rejected(items)]
    assert kinds == [("line 3", "malformed"), ("line 4", "malformed"), ("line 5", "missing_id"),
                     ("line 6", "missing_text"), ("line 7", "missing_text"), ("line 8", "empty"),
                     ("line 10", "duplicate_id"), ("line 11", "missing_id"), ("line 12", "missing_id")]
    dup = rejected(items)[-3]
    assert dup.doc_id == "d1" and "line 1" in dup.reason
    assert "is a dict, not a string or a number" in rejected(items)[-2].reason


def test_jsonl_field_names_are_configurable(tmp_path):
    p = write_jsonl(tmp_path / "c.jsonl", [{"key": "k1", "body": ARTICLE, "headline": "H", "link": "http://x.example/"}])
    [item] = read(p, fields=Fields(id="key", text="body", title="headline", url="link"))
    assert (item.doc.doc_id, item.doc.title, item.doc.url, item.doc.domain) == ("k1", "H", "http://x.example/", "x.example")
    # with the defaults the same row has no text, and the reason names the option
    [r] = read(p)
    assert r.kind == "missing_id" and "--id-field" in r.reason


def test_jsonl_cp1252_line_is_decoded(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_bytes(json.dumps({"id": "a", "text": "plain"}).encode() + b"\n" +
                  b'{"id": "b", "text": "\x93smart quotes\x94 here"}\n')
    a, b = read(p)
    assert (a.doc.encoding, b.doc.encoding) == ("utf-8", "cp1252")
    assert b.doc.text == "\u201csmart quotes\u201d here"


def test_byte_order_marks_of_jsonl_and_csv_files_are_dropped(tmp_path):
    (tmp_path / "b.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "text": "hello"}).encode() + b"\n")
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbfid,text\r\nc,hi there\r\n")
    a, c = read(tmp_path / "b.jsonl", tmp_path / "b.csv")
    assert (a.doc.doc_id, a.doc.text) == ("a", "hello")
    assert (c.doc.doc_id, c.doc.text) == ("c", "hi there")


def test_gzipped_inputs_stream_and_a_corrupt_one_is_quarantined(tmp_path):
    import gzip

    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as f:
        for i in range(3):
            f.write(json.dumps({"id": f"z{i}", "text": ARTICLE}) + "\n")
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(b"id,text\nq1,hello\n"))
    (tmp_path / "page.txt.gz").write_bytes(gzip.compress(ARTICLE.encode("cp1252", "replace")))
    (tmp_path / "torn.jsonl.gz").write_bytes(gzip.compress(b'{"id": "t", "text": "x"}\n' * 50)[:30])
    items = read(tmp_path)
    assert [i.doc.doc_id for i in docs(items)] == ["z0", "z1", "z2", "q1", "page"]
    [torn] = rejected(items)
    assert torn.kind == "unreadable" and torn.source.endswith("torn.jsonl.gz")
    (tmp_path / "x.parquet.gz").write_bytes(b"")
    with pytest.raises(InputError, match=r"unsupported file type '\.parquet\.gz'"):
        read(tmp_path / "x.parquet.gz")


def test_empty_jsonl_file_is_reported(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n\n")
    [r] = read(tmp_path / "e.jsonl")
    assert r.kind == "empty" and r.doc_id is None


# --------------------------------------------------------------------------- .csv


def test_csv_with_multiline_quoted_fields_and_a_huge_field(tmp_path):
    long_text = ("A paragraph about the ferry.\r\n\r\n" * 8000)  # ~260 KB: over csv's default field limit
    p = tmp_path / "news.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "id", "domain", "url", "content", "title"])
        w.writerow(["0", "11", "harbor.example", "http://harbor.example/1", ARTICLE.replace("\n", "\r\n"), "Ferry"])
        w.writerow(["1", "12", "", "", long_text, ""])
        w.writerow(["2", "", "x.example", "", "text without an id", ""])
        w.writerow(["3", "13", "x.example"])
    items = read(p)
    a, b = docs(items)
    assert a.doc.text == ARTICLE.replace("\n", "\r\n")  # \r\n inside a quoted field kept
    assert (a.doc.doc_id, a.doc.title, a.doc.domain, a.doc.url) == ("11", "Ferry", "harbor.example",
                                                                   "http://harbor.example/1")
    assert b.doc.text == long_text and b.doc.title is None and b.doc.domain is None
    assert a.location == "line 2" and b.location.startswith("line ")
    assert [r.kind for r in rejected(items)] == ["missing_id", "malformed"]


def test_csv_without_the_text_column_fails_up_front(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,body\n1,hello\n")
    with pytest.raises(InputError, match=r"no text column.*'text', 'content'.*--text-field"):
        read(p)
    with pytest.raises(InputError, match=r"no column 'headline' \(--title-field\)"):
        read(p, fields=Fields(text="body", title="headline"))
    [item] = read(p, fields=Fields(text="body"))
    assert item.doc.text == "hello"


def test_csv_cp1252_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b'id,text\n1,"caf\xe9\r\nline two"\n2,plain\n')
    a, b = read(p)
    assert (a.doc.text, a.doc.encoding) == ("caf\u00e9\r\nline two", "cp1252")
    assert b.doc.encoding == "utf-8"


def test_header_only_csv_is_reported_empty(tmp_path):
    (tmp_path / "h.csv").write_text("id,text\n")
    [r] = read(tmp_path / "h.csv")
    assert r.kind == "empty"


def test_real_fakenewscorpus_sample():
    path = need_shared(SHARED / "realdata" / "fakenewscorpus" / "news_sample.csv")
    items = read(path)
    ok = docs(items)
    assert len(items) == 250 and len(ok) + len(rejected(items)) == 250
    assert len(ok) >= 240
    assert all(i.doc.title for i in ok[:10]) and all(i.doc.url and i.doc.domain for i in ok[:10])
    assert len({i.doc.doc_id for i in ok}) == len(ok)


def test_real_dragnet_pages_all_decode():
    """Scraped pages in the wild: some are cp1252, some UTF-16 with a byte-order mark."""
    docs_dir = need_shared(SHARED / "realdata" / "dragnet" / "docs")
    items = read(docs_dir)
    ok = docs(items)
    assert len(items) == len(list(docs_dir.glob("*.txt"))) and not rejected(items)
    encodings = Counter(i.doc.encoding for i in ok)
    assert {"utf-8", "cp1252", "utf-16"} <= set(encodings)
    assert all("\ufffd" not in i.doc.text for i in ok if i.doc.encoding != "utf-8")


# --------------------------------------------------------------------------- .parquet


def test_parquet_is_read_in_batches_with_nulls_and_binary_text(tmp_path):
    n = 2500  # several record batches
    table = pa.table({
        "doc_id": [f"p{i}" for i in range(n)],
        "content": [ARTICLE + f"Paragraph {i}.\n" for i in range(n)],
        "title": [None if i % 2 else f"T{i}" for i in range(n)],
    })
    p = tmp_path / "c.parquet"
    pq.write_table(table, p, row_group_size=700)
    items = read(p)
    assert [i.doc.doc_id for i in items] == [f"p{i}" for i in range(n)]
    assert items[1].doc.title is None and items[2].doc.title == "T2" and items[2499].location == "row 2500"

    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a", "b", None, "d"], "text": [b"\x93bytes\x94", b"\x00\x01", b"x", None]}), bad)
    items = read(bad)
    assert (items[0].doc.text, items[0].doc.encoding) == ("\u201cbytes\u201d", "cp1252")
    assert [(r.location, r.kind) for r in rejected(items)] == [("row 2", "binary"), ("row 3", "missing_id"),
                                                               ("row 4", "missing_text")]


def test_unreadable_parquet_is_a_clear_error(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read(tmp_path / "broken.parquet")


# --------------------------------------------------------------------------- across files


def test_duplicate_ids_across_files_and_mixed_good_and_bad(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "same.txt").write_text(ARTICLE)
    (tmp_path / "b" / "same.txt").write_text(ARTICLE)
    (tmp_path / "b" / "zero.txt").write_bytes(b"")
    write_jsonl(tmp_path / "c.jsonl", [{"id": "same", "text": ARTICLE}, {"id": "new", "text": ARTICLE}])
    items = read(tmp_path)
    assert [i.doc.doc_id for i in docs(items)] == ["same", "new"]
    assert Counter(r.kind for r in rejected(items)) == {"duplicate_id": 2, "empty": 1}
    assert all(json.dumps(r.as_json()) for r in rejected(items))


def test_read_meter_follows_the_bytes_read(tmp_path):
    import gzip

    from builder.ingest import ReadMeter

    write_jsonl(tmp_path / "a.jsonl", [{"id": f"a{i}", "text": ARTICLE * 40} for i in range(200)])
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress((json.dumps({"id": "b", "text": ARTICLE}) + "\n").encode()))
    meter = ReadMeter()
    it = read_documents([tmp_path], meter=meter)
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert meter.total == total and meter.done() == 0
    seen = [meter.done() for _ in zip(range(100), it)]
    assert 0 < seen[-1] < total and seen == sorted(seen)
    list(it)
    assert meter.done() == total


def test_reading_streams_rather_than_loading_the_corpus_up_front(tmp_path):
    p = write_jsonl(tmp_path / "c.jsonl", [{"id": str(i), "text": ARTICLE} for i in range(3)])
    it = read_documents([p])
    first = next(it)
    with p.open("a", encoding="utf-8") as f:  # a row added after reading began is still read
        f.write(json.dumps({"id": "late", "text": ARTICLE}) + "\n")
    assert [first.doc.doc_id] + [i.doc.doc_id for i in it] == ["0", "1", "2", "late"]


# --------------------------------------------------------------------------- the fast paths


def test_control_characters_are_counted_as_the_pattern_counts():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from builder.ingest import _CONTROL, count_controls

    # every C0/C1 control, DEL, the whitespace controls, \xc2-led characters (nbsp, ©), wide ones, surrogates
    chars = st.one_of(st.characters(max_codepoint=0x250), st.sampled_from(["\xa0", "\xa9", "\u2022", "\ud800",
                                                                            "\U0001F600", "\x85", "\x9f"]))

    @settings(max_examples=2000, deadline=None)
    @given(st.text(alphabet=chars, max_size=60))
    def check(text):
        assert count_controls(text) == len(_CONTROL.findall(text))

    check()


LINES = [b'{"id": "a", "text": "plain"}', b'{"id": 12, "text": "an int id"}', b'{"id": 1.5, "text": "a float id"}',
         b'{"id": 123456789012345678901234567890, "text": "an id of 30 digits"}',  # orjson would make it a float
         b'{"id": "b", "text": 123456789012345678901234567890}', b'123456789012345678901234567890', b'1.5',
         b'{"id": "c", "text": NaN}', b'{"id": "d", "x": 1e400, "text": "t"}', b'{"id": "e", "text": "\\ud800 lone"}',
         b'{"id": "f", "id": "g", "text": "the last of two keys"}', b'{"id": "h", "text": "caf\xe9 in cp1252"}',
         b'{"id": "i", "text": "\xed\xa0\x80 an encoded surrogate"}', b'{"id": "j", "text": "raw\ttab"}',
         b'{"id": "k", "text": "t"} extra', b'{"id": "l", "text": "t"', b'[1, 2]', b'"s"', b'  {"id": "m", "text": "t"} \r\n',
         b'{"id": "n", "text": "\\u0000"}', b'{"id": -0, "text": "t"}', b'{"id": 18446744073709551616, "text": "t"}',
         b'{"id": "o", "text": "\xc2\x85 a C1 control"}', b'{"id": "\\u00e9", "text": "\\ud83d\\ude00"}']


@pytest.mark.parametrize("raw", LINES)
def test_jsonl_lines_parse_as_json_parses_them(raw):
    """orjson parses the common line; whatever it parses must be what json.loads gives for the line
    as _decode_line decodes it, and what it refuses must get json's own error message."""
    from builder.ingest import _decode_line, _loads

    line, codec = _decode_line(raw)
    try:
        want = json.loads(line), codec
    except json.JSONDecodeError as e:
        with pytest.raises(json.JSONDecodeError) as got:
            _loads(raw)
        assert (got.value.msg, got.value.colno) == (e.msg, e.colno)
        return
    got = _loads(raw)
    assert repr(got) == repr(want)  # repr: 1 and 1.0, nan, key order all told apart


def test_a_jsonl_file_of_tricky_lines_reads_as_before(tmp_path):
    """The whole reader over the lines above: every document or rejection as json alone gives it."""
    (tmp_path / "t.jsonl").write_bytes(b"".join(line.rstrip() + b"\n" for line in LINES))  # line n is LINES[n - 1]
    items = read(tmp_path / "t.jsonl")
    by_line = {i.location: i for i in items}
    assert by_line["line 4"].doc.doc_id == "123456789012345678901234567890"
    assert by_line["line 5"].kind == "missing_text" and "is a int" in by_line["line 5"].reason
    assert by_line["line 6"].kind == "malformed" and "a JSON int" in by_line["line 6"].reason
    assert by_line["line 7"].kind == "malformed" and "a JSON float" in by_line["line 7"].reason
    assert by_line["line 8"].kind == "missing_text" and "is a float" in by_line["line 8"].reason
    assert by_line["line 11"].doc.doc_id == "g"
    assert (by_line["line 12"].doc.encoding, by_line["line 12"].doc.text) == ("cp1252", "caf\xe9 in cp1252")
    assert by_line["line 14"].kind == by_line["line 15"].kind == by_line["line 16"].kind == "malformed"
    assert by_line["line 22"].doc.doc_id == "18446744073709551616"
    assert by_line["line 24"].doc.text == "\U0001F600"


def test_a_line_nested_too_deeply_is_quarantined_and_the_others_read(tmp_path):
    """orjson refuses JSON nested over 1,024 deep and json then runs out of stack: one such line is
    that line's rejection, not the end of the run."""
    p = tmp_path / "deep.jsonl"
    deep = b'{"id": "b", "text": "x", "m": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    p.write_bytes(b'{"id": "a", "text": "first"}\n' + deep + b'\n{"id": "c", "text": "third"}\n')
    items = read(p)
    assert [d.doc.doc_id for d in docs(items)] == ["a", "c"]
    (r,) = rejected(items)
    assert r.kind == "malformed" and "nested too deeply" in r.reason and r.location == "line 2"
