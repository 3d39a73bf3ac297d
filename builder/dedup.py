"""Near-duplicate records across documents, so that one text copied under many pages (spam pasted
under every article, a syndicated story, the same statement quoted by several outlets) never sits
on both sides of a split.

Each record's text is normalized by Arrow (NFKC, lower-cased, hyphens and apostrophes dropped so `p-e-r`
becomes `per`, split at anything but letters and digits), cut into word 3-gram shingles and summarized
by a MinHash (datasketch). Signatures are cut into bands; two records whose signatures agree on a
whole band are candidates (LSH). With 128 permutations in 16 bands of 8 rows, a pair with Jaccard
similarity 0.8 is caught with probability 0.96 and one at 0.5 with 0.06 (the threshold is ~0.71).
Identical normalized texts always agree on every band.

Only band keys (one uint64 per band and record) and a document index per record are kept, and the
keys can go to disk as they are made (`spill_dir`: publishing and verifying a release do so), so
memory grows by 4 bytes per record while records are read, and by ~40 while one band's keys are
sorted; candidates are found by sorting the keys of one band at a time, not by a Python index of
every record.

Texts shorter than `min_words` normalized words are not checked: "Great article!" under a hundred
pages is not leakage worth chaining a hundred documents into one split for. Their count is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from datasketch import MinHash

from builder.errors import BuilderError

NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
SHINGLE = 3
MIN_WORDS = 6
ADD_ROWS = 4096  # records hashed at once (see NearDuplicates.add)
SEED = 1  # datasketch's permutation seed: fixed, so signatures are the same on every run

_DROP = "[-\u2010\u2011\u00ad'\u2019`\u00b4]+"  # hyphens, soft hyphen, apostrophes: inside words, dropped
_SPLIT = "[^\\p{L}\\p{N}]+"  # anything but letters and digits separates words
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
                dtype=np.uint64)
_P1, _P2 = np.uint32(0x9E3779B1), np.uint32(0x85EBCA77)  # combine three word hashes into a shingle hash


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before its permutations."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint32(16))
        h = h * np.uint32(0x85EBCA6B)
        h = h ^ (h >> np.uint32(13))
        h = h * np.uint32(0xC2B2AE35)
        return h ^ (h >> np.uint32(16))


def words(texts) -> pa.ListArray:
    """Normalized words of each text, computed by Arrow over a whole batch: NFKC, lower case,
    hyphens and apostrophes dropped (`p-e-r` → `per`), split at anything but letters and digits."""
    arr = pa.array(texts, type=pa.string()) if not isinstance(texts, (pa.Array, pa.ChunkedArray)) else texts
    arr = pc.utf8_lower(pc.utf8_normalize(arr, form="NFKC"))
    return pc.split_pattern_regex(pc.replace_substring_regex(arr, _DROP, ""), _SPLIT)


def normalize(text: str) -> str:
    """The form two texts are compared in: `Goo-g-le is PAYING $97 p-e-r hour` → `google is paying 97 per hour`."""
    return " ".join(w for w in words([text])[0].as_py() if w)


@dataclass
class DedupReport:
    """What the check found, for the card and the manifest."""

    records_checked: int = 0
    records_too_short: int = 0
    near_duplicate_records: int = 0  # records sharing a band with a record of another document
    clusters: int = 0  # groups of two or more documents joined by near-duplicate records
    documents_in_clusters: int = 0
    largest_cluster: int = 0  # documents
    documents_moved: int = 0  # documents whose own split differs from their cluster's (set by release)
    params: dict = field(default_factory=lambda: {
        "method": "MinHash LSH over word 3-gram shingles of normalized text",
        "num_perm": NUM_PERM, "bands": BANDS, "rows": ROWS, "shingle_words": SHINGLE,
        "min_words": MIN_WORDS, "approx_threshold": round((1 / BANDS) ** (1 / ROWS), 2),
    })


class NearDuplicates:
    """Fed record texts batch by batch (`add`), then `groups` joins documents that share a
    near-duplicate record.

    With `spill_dir`, the band keys go to one file per band there as they are made, and `groups`
    reads back one band at a time: what stays in memory while records are added is 4 bytes per
    record (its document index) instead of 132; without, everything is kept in memory (tests,
    small inputs)."""

    def __init__(self, min_words: int = MIN_WORDS, spill_dir: Path | None = None) -> None:
        self.min_words = min_words
        self._minhash = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)  # shingles arrive hashed (32-bit)
        self._keys: list[list[np.ndarray]] = [[] for _ in range(BANDS)]
        self._docs: list[np.ndarray] = []
        self._spill = None if spill_dir is None else [Path(spill_dir, f"band-{b:02d}.u64") for b in range(BANDS)]
        if self._spill is not None:
            for b in range(BANDS):
                self._write(b, b"", "wb")
        self.report = DedupReport()

    def add(self, doc_index: np.ndarray, texts) -> None:
        """One batch: each record's document index and text (a list or an Arrow string array),
        taken ADD_ROWS records at a time: Arrow's string kernels keep their output buffers' grown
        capacity, ~8x the text, so a whole 32k-row batch at once would hold ~100 MB."""
        if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
            texts = pa.array(texts, type=pa.string())
        doc_index = np.asarray(doc_index, dtype=np.int64)
        for i in range(0, len(texts), ADD_ROWS):
            self._add(doc_index[i : i + ADD_ROWS], texts[i : i + ADD_ROWS])

    def _add(self, doc_index: np.ndarray, texts) -> None:
        lists = words(texts)
        flat = pc.list_flatten(lists)
        parent = pc.list_parent_indices(lists)
        nonempty = pc.not_equal(flat, "")
        flat, parent = flat.filter(nonempty), parent.filter(nonempty).to_numpy()
        n = len(lists)
        counts = np.bincount(parent, minlength=n)
        # hash each distinct word once, then each word 3-gram from its three word hashes
        enc = pc.dictionary_encode(flat)
        vocab = np.fromiter((xxhash.xxh32_intdigest(w.encode()) for w in enc.dictionary.to_pylist()), dtype=np.uint32,
                            count=len(enc.dictionary))
        h = vocab[enc.indices.to_numpy()]
        k = SHINGLE
        with np.errstate(over="ignore"):
            sh = h[: len(h) - k + 1] * _P1 ^ h[1 : len(h) - k + 2] * _P2 ^ h[k - 1 :] if len(h) >= k else h[:0]
        starts = np.concatenate(([0], np.cumsum(counts)))
        keep = np.flatnonzero(counts >= self.min_words)
        self.report.records_too_short += n - len(keep)
        self.report.records_checked += len(keep)
        if not len(keep):
            return
        sig = self.signatures([sh[starts[i] : starts[i + 1] - k + 1] for i in keep])
        self._docs.append(doc_index[keep].astype(np.int32))
        for b in range(BANDS):
            band = np.ascontiguousarray(sig[:, b * ROWS : (b + 1) * ROWS]).view(np.uint64)  # (n, ROWS/2)
            key = np.full(len(keep), np.uint64(b + 1), dtype=np.uint64)
            with np.errstate(over="ignore"):
                for j in range(band.shape[1]):
                    key = key * np.uint64(0x100000001B3) + band[:, j] * _MIX[j % len(_MIX)]
            if self._spill is None:
                self._keys[b].append(key)
            else:
                self._write(b, key.tobytes())

    def _write(self, b: int, data: bytes, mode: str = "ab") -> None:
        try:
            with open(self._spill[b], mode) as f:
                f.write(data)
        except OSError as e:  # a full or read-only disk: say so, not "cannot read the input"
            raise BuilderError(f"cannot write near-duplicate keys to {self._spill[b].parent} ({e.strerror}); "
                               "free space there (or set TMPDIR to a folder with room) and run again") from None

    def _band(self, b: int) -> np.ndarray:
        """One band's keys of every record added, in the order added; read once (memory freed)."""
        if self._spill is None:
            keys = np.concatenate(self._keys[b])
            self._keys[b] = []
            return keys
        keys = np.fromfile(self._spill[b], dtype=np.uint64)
        self._spill[b].unlink()
        return keys

    def signatures(self, shingle_sets: list[np.ndarray], chunk: int = 32_768) -> np.ndarray:
        """MinHash signatures (n, NUM_PERM) of sets of 32-bit shingle hashes: datasketch's affine32
        scheme (MurmurHash3 finalizer, then h*a + b mod 2^32 with its seeded permutations a, b),
        applied to many sets at once; equal to MinHash.update_batch set by set (tested)."""
        a, b = (np.asarray(x, dtype=np.uint32) for x in self._minhash.permutations)
        out = np.empty((len(shingle_sets), NUM_PERM), dtype=np.uint32)
        i = 0
        while i < len(shingle_sets):
            j, size = i, 0
            while j < len(shingle_sets) and (size == 0 or size + len(shingle_sets[j]) <= chunk):
                size += len(shingle_sets[j])
                j += 1
            hv = _fmix32(np.concatenate(shingle_sets[i:j]).astype(np.uint32))
            with np.errstate(over="ignore"):
                phv = a[:, None] * hv[None, :]  # (NUM_PERM, shingles): each row contiguous for reduceat
                phv += b[:, None]
            bounds = np.cumsum([0] + [len(x) for x in shingle_sets[i : j - 1]])
            out[i:j] = np.minimum.reduceat(phv, bounds, axis=1).T
            i = j
        return out

    def groups(self, n_docs: int) -> np.ndarray:
        """A root document index per document: documents joined by near-duplicate records share
        one root. Fills the report's cluster figures."""
        parent = np.arange(n_docs, dtype=np.int64)

        def find(x: int) -> int:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        if not self._docs:
            return parent
        docs = np.concatenate(self._docs)
        involved = np.zeros(len(docs), dtype=bool)
        pairs = []
        for b in range(BANDS):
            keys = self._band(b)
            order = np.argsort(keys, kind="stable")
            k, d = keys[order], docs[order]
            same = k[1:] == k[:-1]
            if not same.any():
                continue
            # each member of a run of equal keys is joined to the run's first member
            run_start = np.maximum.accumulate(np.where(np.concatenate(([False], same)), 0,
                                                       np.arange(len(k))))
            first_doc = d[run_start]
            cross = first_doc != d
            if not cross.any():
                continue
            pairs.append(np.stack([first_doc[cross], d[cross]], axis=1))
            # every record of a run that spans two documents is a near-duplicate record
            cross_runs = np.unique(run_start[cross])
            members = np.isin(run_start, cross_runs)
            involved[order[members]] = True
        self._docs = []
        self.report.near_duplicate_records = int(involved.sum())
        if pairs:
            for a, b in np.unique(np.concatenate(pairs), axis=0):
                ra, rb = find(int(a)), find(int(b))
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        roots = np.array([find(i) for i in range(n_docs)], dtype=np.int64)
        sizes = np.bincount(roots, minlength=n_docs)
        multi = sizes[sizes > 1]
        self.report.clusters = int(len(multi))
        self.report.documents_in_clusters = int(multi.sum())
        self.report.largest_cluster = int(multi.max()) if len(multi) else 0
        return roots
