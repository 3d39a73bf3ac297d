"""Sorting more items than memory should hold: sorted runs spilled to disk and merged back.

`pull` judges a Label Studio export record by record (or document by document) in id order, but
the export comes in task order and can be larger than memory. SortedSpill takes (key, item) pairs
in any order and gives the items back sorted by key; items with equal keys come back in the order
they were added (sorted() is stable within a run, and heapq.merge takes ties from earlier runs
first). Items are kept as JSON (orjson) while they wait, so they must be JSON values, and come back
as JSON gives them (tuples as lists). Without a folder everything stays in memory: the same order,
for small inputs and tests.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from pathlib import Path

import orjson

__all__ = ["SortedSpill"]

RUN_BYTES = 32 << 20  # serialized items held before a run is sorted and written out


class SortedSpill:
    def __init__(self, folder: Path | None = None, run_bytes: int | None = None) -> None:
        self.folder = folder
        self.run_bytes = run_bytes or RUN_BYTES
        self._pending: list[tuple[str, bytes]] = []
        self._size = 0
        self._runs: list[Path] = []

    def add(self, key: str, item) -> None:
        # a copy: orjson's bytes keep its 4 KB output buffer, whatever the line's length
        line = memoryview(orjson.dumps([key, item])).tobytes()
        self._pending.append((key, line))
        self._size += len(line)
        if self.folder is not None and self._size >= self.run_bytes:
            self._spill()

    def _spill(self) -> None:
        path = self.folder / f"run-{len(self._runs):05d}.jsonl"
        self._pending.sort(key=lambda kv: kv[0])
        with open(path, "wb") as f:
            f.writelines(line + b"\n" for _, line in self._pending)
        self._runs.append(path)
        self._pending, self._size = [], 0

    def __iter__(self) -> Iterator:
        """The items, sorted by key (stable); the run files are removed as this finishes."""
        if not self._runs:
            self._pending.sort(key=lambda kv: kv[0])
            pending, self._pending = self._pending, []
            for _, line in pending:
                yield orjson.loads(line)[1]
            return
        if self._pending:
            self._spill()
        files = [open(path, "rb") for path in self._runs]
        try:
            for _, item in heapq.merge(*(map(orjson.loads, f) for f in files), key=lambda pair: pair[0]):
                yield item
        finally:
            for f in files:
                f.close()
            self.discard()

    def discard(self) -> None:
        for path in self._runs:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self._runs, self._pending = [], []
