"""A raw document as ingest hands it to the segmenter."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    text: str
    title: str | None = None  # given by the source (CSV/JSONL/Parquet column); None: the segmenter looks in the text
    url: str | None = None
    domain: str | None = None
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if self.domain is None and self.url:
            host = urlsplit(self.url if "//" in self.url else "//" + self.url).hostname
            if host:
                object.__setattr__(self, "domain", host.removeprefix("www."))
