"""How much of the PolNeAR quote check's false-positive text is its gold's fragmenting: the check
(../shared/eval/polnear.py) takes a direct quote to be the text between two marks inside one
annotated Content fragment, and annotators often cut a multi-sentence quote into one fragment per
sentence, so a quote whose marks fall in different fragments is no gold at all. This runs the same
scoring twice, as the check does it and with the fragments of each Content that only whitespace
separates joined, and prints both.

    python bench/polnear_fragments.py            # dev
    python bench/polnear_fragments.py --split train

It imports the check's own functions (its gold_quotes, span_chars, prf) and segments through the
public interface as the check does, so the two lines differ only in how fragments are read.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev", choices=["dev", "train"])
    a = ap.parse_args()
    if not (SHARED / "eval" / "polnear.py").is_file():
        raise SystemExit(f"{SHARED}/eval/polnear.py is needed (the workplace's check)")
    os.environ.setdefault("BUILDER_CMD", shlex.join([sys.executable, "-m", "builder"]))
    sys.path.insert(0, str(SHARED / "eval"))
    import polnear  # the check itself
    from common import prf, segment, span_chars

    as_annotated = polnear.spans
    folder = SHARED / "realdata" / "polnear" / a.split
    docs, gold = {}, {"as the check reads it": {}, "fragments joined": {}}
    for f in sorted((folder / "text").glob("*.txt")):
        anns = sorted((folder / "attributions").glob(f.stem + "_*.ann"))
        if not anns:
            continue
        text, ann = f.read_text(encoding="utf-8"), anns[0].read_text(encoding="utf-8")

        def joined(field: str, text=text) -> list[tuple[int, int]]:
            out: list[list[int]] = []
            for s, e in sorted(as_annotated(field)):
                if out and not text[out[-1][1] : s].strip():
                    out[-1][1] = e
                else:
                    out.append([s, e])
            return [(s, e) for s, e in out]

        docs[f.stem] = text
        for name, reader in (("as the check reads it", as_annotated), ("fragments joined", joined)):
            polnear.spans = reader
            gold[name][f.stem] = polnear.gold_quotes(text, ann)
    polnear.spans = as_annotated
    recs = segment(docs)
    predicted = {d: [span_chars(t, r["char_start"], r["char_end"], polnear.MARKS)
                     for r in recs.get(d, []) if r["type"] == "quote"] for d, t in docs.items()}
    print(f"PolNeAR {a.split}: {len(docs)} articles")
    for name, by_doc in gold.items():
        tp = npred = ngold = 0
        for d in docs:
            pred = set().union(*predicted[d])
            g = set().union(*(c for c, _ in by_doc[d]))
            tp, npred, ngold = tp + len(pred & g), npred + len(pred), ngold + len(g)
        p, r, f1 = prf(tp, npred, ngold)
        print(f"  {name:<22} quote_text precision {p:.3f} recall {r:.3f} f1 {f1:.3f}")


if __name__ == "__main__":
    main()
