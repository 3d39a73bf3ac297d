"""Train the layout's comment-section model on the Dragnet pages and report how well it does.

    python scripts/train_layout.py [--docs ../shared/realdata/dragnet/docs] [--folds 5] [--write]

Each page's lines are labelled by the gold boundary (the `!@#$%^&*()  COMMENTS` line, removed before
anything looks at the text): a line after it is in the comment section. A logistic regression over
lines.FEATURES is fitted by Newton's method with a small L2 penalty (deterministic: no random
initialisation, no shuffling), and the presence threshold is the one that makes the fewest page-level
mistakes on the training pages. A second small model (boundary_features, a softmax over the lines
near the rough start) places the section's first line. Every page is learnt twice, as rendered and
with blank-line runs cut to two (see line_data); pages whose marker line is misspelt are left out of
training, as their labels are wrong, but counted in every figure.

Figures are printed for pages held out by file (k folds by a hash of the file name; every page is
predicted by a model that never saw it) and for the final model on all pages, computed as
../shared/eval/dragnet.py computes them. `--write` stores the final model in
builder/segment/models/layout_boundary.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.segment import layout as L  # noqa: E402
from builder.segment.lines import (  # noqa: E402
    BOUNDARY_FEATURES,
    FEATURES,
    WINDOW,
    boundary_features,
    classify,
    features,
    split_lines,
)

MARKER = "!@#$%^&*()  COMMENTS"
L2 = 1.0
GAP_CAP = 2  # blank lines kept between paragraphs in the copy of each page without wide gaps


def load(folder: Path) -> tuple[dict[str, str], dict[str, int | None]]:
    """Pages and gold boundaries, exactly as the shared check prepares them."""
    docs, gold = {}, {}
    for f in sorted(folder.glob("*.txt")):
        raw = f.read_bytes().decode("utf-8", errors="replace")
        lines = raw.split("\n")
        idx = next((i for i, ln in enumerate(lines) if ln.startswith(MARKER)), None)
        if idx is None:
            text, boundary = raw, None
        else:
            head, tail = "\n".join(lines[:idx]), "\n".join(lines[idx + 1 :])
            text = head + "\n" + tail
            boundary = len(head) + 1 if tail.strip() else None
        doc_id = f.name.split(".")[0]
        docs[doc_id], gold[doc_id] = text, boundary
    return docs, gold


def line_data(text: str, boundary: int | None, gap_cap: int | None = None):
    """Line features, line labels, and (for the boundary model) the body lines with their kinds.
    With gap_cap, runs of blank lines are cut to that length first: Dragnet's renderings set the
    comment section apart with a wide gap, which pages rendered otherwise do not have, so every page
    is also learnt without it and the model keeps reading the comment markup itself."""
    lines = split_lines(text)
    if gap_cap is not None:
        lines = [ln._replace(blank_before=min(ln.blank_before, gap_cap)) for ln in lines]
    kinds = [classify(ln.text) for ln in lines]
    first = 1 if len(lines) > 1 and L.is_title(lines[0], kinds[0]) else 0
    body, bkinds = lines[first:], kinds[first:]
    x = np.array(features(body, bkinds), dtype=float).reshape(-1, len(FEATURES))
    y = np.array([boundary is not None and ln.start >= boundary for ln in body], dtype=float)
    return x, y, body, bkinds


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    w = np.zeros(x.shape[1])
    reg = np.full(x.shape[1], L2)
    reg[0] = 1e-6  # the bias is not shrunk
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + reg * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def best_threshold(data, w) -> float:
    """The presence threshold with the fewest page-level mistakes (ties: the middle of the best run)."""
    maxima, has = [], []
    for x, y, *_ in data:
        s = x @ w
        suffix = np.cumsum(s[::-1])[::-1] if len(s) else np.array([])
        maxima.append(suffix.max() if len(s) else -np.inf)
        has.append(bool(y.any()))
    cands = sorted(set(np.round(maxima, 3)) | {0.0})
    errs = [sum((m > t) != h for m, h in zip(maxima, has)) for t in cands]
    lo = min(errs)
    best = [t for t, e in zip(cands, errs) if e == lo]
    return float(best[len(best) // 2])


def fit_boundary(data, w) -> np.ndarray:
    """Weights of the exact-start model: a softmax over the lines near the rough boundary, each
    candidate j scored suffix_sum(j) + v·boundary_features(j), fitted by Newton's method."""
    groups = []
    for x, y, body, kinds in data:
        if not y.any():
            continue
        s = x @ w
        suffix = np.cumsum(s[::-1])[::-1]
        k, g = int(np.argmax(suffix)), int(np.argmax(y))
        lo, hi = max(0, k - WINDOW), min(len(s), k + WINDOW + 1)
        if not lo <= g < hi:
            continue
        phi = np.array([boundary_features(body, kinds, j) for j in range(lo, hi)])
        groups.append((phi, suffix[lo:hi], g - lo))
    v = np.zeros(len(BOUNDARY_FEATURES))
    for _ in range(50):
        grad = L2 * v
        hess = np.diag(np.full(len(v), L2))
        for phi, off, t in groups:
            z = off + phi @ v
            p = np.exp(z - z.max())
            p /= p.sum()
            mean = p @ phi
            grad += mean - phi[t]
            hess += (phi * p[:, None]).T @ phi - np.outer(mean, mean)
        step = np.linalg.solve(hess, grad)
        v -= step
        if np.abs(step).max() < 1e-8:
            break
    return v


def train(docs, gold, ids) -> dict:
    # pages with a misspelt marker are labelled comment-free although they have comments: left out
    # of training (their labels are wrong), never out of the figures
    data = [line_data(docs[d], gold[d], cap) for d in ids if not garbled(docs[d]) for cap in (None, GAP_CAP)]
    x = np.vstack([a for a, *_ in data])
    y = np.concatenate([b for _, b, *_ in data])
    w = fit(x, y)
    return {
        "features": list(FEATURES),
        "weights": [round(float(v), 6) for v in w],
        "threshold": round(best_threshold(data, w), 6),
        "boundary_features": list(BOUNDARY_FEATURES),
        "boundary_weights": [round(float(v), 6) for v in fit_boundary(data, w)],
    }


def span_chars(text, start, end):
    return {i for i in range(max(start, 0), min(end, len(text))) if not text[i].isspace()}


def figures(docs, gold, layouts) -> dict[str, float]:
    """As ../shared/eval/dragnet.py: presence accuracy, comment-region P/R/F1, article leakage,
    false comment rate."""
    right = tp = npred = ngold = leak = art = fp = nocom = 0
    for d, text in docs.items():
        b, lay = gold[d], layouts[d]
        pred = set()
        for c in lay.comments:
            pred |= span_chars(text, c.start, c.end)
        right += bool(pred) == (b is not None)
        if b is None:
            nocom += 1
            fp += bool(pred)
            continue
        g = span_chars(text, b, len(text))
        tp, npred, ngold = tp + len(pred & g), npred + len(pred), ngold + len(g)
        if lay.article is not None:
            a = span_chars(text, *lay.article)
            art, leak = art + len(a), leak + len(a & g)
    p = tp / npred if npred else 0.0
    r = tp / ngold if ngold else 0.0
    return {
        "pages": len(docs),
        "presence_accuracy": right / len(docs),
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "article_leakage": leak / art if art else 0.0,
        "false_comment_rate": fp / nocom if nocom else 0.0,
    }


def show(name: str, f: dict) -> None:
    print(f"{name}: pages {f['pages']} presence_accuracy {f['presence_accuracy']:.3f} comment_region "
          f"precision {f['precision']:.3f} recall {f['recall']:.3f} f1 {f['f1']:.3f} "
          f"article_leakage {f['article_leakage']:.3f} false_comment_rate {f['false_comment_rate']:.3f}")


def garbled(text: str) -> bool:
    """A page whose marker line is misspelt ("!@ $%^&*() COMMENTS", "... CORRECTED"): the check
    counts it as comment-free although it has comments. Only used to report figures without them."""
    return any(ln.startswith("!@") for ln in text.split("\n"))


def fold_of(doc_id: str, k: int) -> int:
    return int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "realdata" / "dragnet" / "docs")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--body-only", action="store_true", help="measure comment spans without their header lines")
    ap.add_argument("--write", action="store_true", help="store the model trained on all pages")
    a = ap.parse_args()
    if not a.docs.is_dir():
        sys.exit(f"no Dragnet pages at {a.docs}")
    docs, gold = load(a.docs)
    ids = sorted(docs)

    held = {}
    for k in range(a.folds):
        train_ids = [d for d in ids if fold_of(d, a.folds) != k]
        m = train(docs, gold, train_ids)
        for d in ids:
            if fold_of(d, a.folds) == k:
                held[d] = L.layout_with(docs[d], True, m, with_headers=not a.body_only)
    show(f"held-out ({a.folds} folds by file)", figures(docs, gold, held))
    clean = [d for d in ids if not garbled(docs[d])]
    show(f"held-out, without the {len(ids) - len(clean)} pages with a misspelt marker",
         figures({d: docs[d] for d in clean}, gold, held))

    m = train(docs, gold, ids)
    full = {d: L.layout_with(docs[d], True, m, with_headers=not a.body_only) for d in ids}
    show("all pages (final model, seen in training)", figures(docs, gold, full))
    for name, v in zip(FEATURES, m["weights"]):
        print(f"  {name:20s} {v:+.3f}")
    print(f"  {'threshold':20s} {m['threshold']:+.3f}")
    for name, v in zip(BOUNDARY_FEATURES, m["boundary_weights"]):
        print(f"  start:{name:14s} {v:+.3f}")
    if a.write:
        model = {
            "about": "Comment-section models of builder/segment/layout.py; trained by scripts/train_layout.py "
                     "on the Dragnet pages (seomoz/dragnet_data, training split).",
            **m,
        }
        out = ROOT / "builder" / "segment" / "models" / "layout_boundary.json"
        out.parent.mkdir(exist_ok=True)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        tmp.replace(out)
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
