"""The human-facing files of a release: the dataset card (DATASET_CARD.md rendered with jinja2,
under a Hugging Face YAML header), the changelog and the chart. Everything here is a pure function
of the manifest and the statistics `release.stage` computed, so the same release renders the same
bytes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from builder.schema import LABEL_STATUSES, LABELS_SCHEMA, SCHEMA, TYPE_NAMES

CHART = "chart.png"
TEMPLATE = "DATASET_CARD.md"
SPLITS = ("train", "validation", "test")
LICENSE = "other"  # the texts belong to their authors and publishers; see the card's licensing section


def template_path() -> Path:
    """The top-level DATASET_CARD.md: the checkout's own in a source or editable install, the copy
    packed as `builder._card` in a wheel (the same lookup as schema.data_dir)."""
    path = Path(__file__).resolve().parent.parent / TEMPLATE
    if not path.is_file():
        path = Path(str(resources.files("builder._card").joinpath(TEMPLATE)))
    if not path.is_file():
        from builder.errors import InputError

        raise InputError(f"the card template {TEMPLATE} is neither next to the builder package nor packed in it "
                         f"({path}): reinstall builder (pip install .)")
    return path


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def _annotations_creators(total: dict) -> list[str]:
    """The segmenter always; people only when the release carries human labels or human records
    (a release without them must not claim expert annotations)."""
    people = sum(v for k, v in total["label_status"].items() if k != "unlabeled") or total["human_documents"]
    return ["expert-generated", "machine-generated"] if people else ["machine-generated"]


def yaml_header(manifest: dict, stats: dict) -> str:
    """The card's YAML metadata: `configs` with data_files per split (what makes
    `load_dataset(dir)` find the splits), `dataset_info` with features and split sizes."""
    import datasets
    from huggingface_hub import DatasetCardData

    from builder.release import release_features

    # datasets cannot load a split without rows ("corresponds to no data", huggingface/datasets#8401):
    # an empty split keeps its (row-less) file but is left out of the header, and the card says so
    present = [s for s in SPLITS if manifest["splits"][s]["rows"]]
    splits = datasets.SplitDict()
    for s in present:
        splits.add(datasets.SplitInfo(name=s, num_bytes=stats["splits"][s]["num_bytes"],
                                      num_examples=manifest["splits"][s]["rows"]))
    info = datasets.DatasetInfo(
        features=release_features(), splits=splits,
        download_size=sum(f["bytes"] for f in manifest["files"]),
        dataset_size=sum(stats["splits"][s]["num_bytes"] for s in SPLITS),
    )
    data = DatasetCardData(
        language=["en"],
        license=LICENSE,
        license_name="mixed-web-content",
        annotations_creators=_annotations_creators(stats["total"]),
        language_creators=["found"],
        multilinguality=["monolingual"],
        size_categories=[_size_category(stats["total"]["rows"])],
        source_datasets=["original"],
        task_categories=["text-classification", "token-classification"],
        pretty_name=f"{manifest['name']} {manifest['version']}",
        configs=[{"config_name": "default",
                  "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in present]}],
    )
    datasets.info.DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return "---\n" + data.to_yaml() + "\n---\n"


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def render(manifest: dict, stats: dict, benchmark: list[dict], changes: dict | None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_path().parent)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda a, b: _pct(a, b)
    env.filters["num"] = lambda n: f"{n:,}"
    total = stats["total"]
    labels = manifest.get("labels")
    labeled = total["rows"] - total["label_status"]["unlabeled"]
    fields = [(name, prop.get("description", ""), _dtype(prop)) for name, prop in SCHEMA["properties"].items()]
    label_fields = [(name, prop.get("description", ""), _dtype(prop)) for name, prop in LABELS_SCHEMA["properties"].items()]
    ctx = {
        "m": manifest, "stats": stats, "total": total, "splits": SPLITS, "types": TYPE_NAMES,
        "statuses": LABEL_STATUSES, "labels": labels, "labeled": labeled, "benchmark": benchmark,
        "changes": changes, "fields": fields, "label_fields": label_fields, "chart": CHART,
        "yaml_header": yaml_header(manifest, stats), "dedup": stats["dedup"],
        "params": manifest["split_method"]["near_duplicates"], "ratios": stats["ratios"],
        "label_meta": (stats["labels"].get("meta") or {}), "label_stats": stats["labels"],
        "empty_splits": [s for s in SPLITS if not manifest["splits"][s]["rows"]],
    }
    return env.get_template(TEMPLATE).render(**ctx)


def _dtype(prop: dict) -> str:
    kind = prop["x-arrow"]
    if kind == "class_label":
        return "ClassLabel(" + ", ".join(n for n in prop["enum"] if n is not None) + ")"
    if kind == "list_struct":
        return "list of {" + ", ".join(prop["items"]["properties"]) + "}"
    nullable = isinstance(prop.get("type"), list) and "null" in prop["type"]
    return kind + (" or null" if nullable else "")


def changelog(manifest: dict, changes: dict | None) -> str:
    head = f"# Changelog: {manifest['name']}\n\n## {manifest['version']}\n\n"
    if changes is None:
        return head + "First release: no earlier version of this dataset exists.\n"
    c = changes["counts"]
    lines = [head + f"Against {changes['old']['version']} (fingerprint `{changes['old']['fingerprint'][:16]}…`):\n",
             f"- records: {c['old_records']:,} → {c['new_records']:,}",
             f"- added: {c['added']:,}",
             f"- removed: {c['removed']:,}",
             f"- changed: {c['changed']:,}"
             + (" (fields: " + ", ".join(f"{k} {v:,}" for k, v in changes["changed_fields"].items()) + ")"
                if changes["changed_fields"] else ""),
             f"- labels changed: {c['labels_changed']:,}"
             + (" (" + ", ".join(f"{k}: {v:,}" for k, v in changes["label_transitions"].items()) + ")"
                if changes["label_transitions"] else ""),
             f"- documents added {c['documents_added']:,}, removed {c['documents_removed']:,}, "
             f"moved to another split {c['documents_moved_split']:,}",
             "",
             f"The full list by record_id: `builder diff RELEASES/{manifest['name']}/{changes['old']['version']} "
             f"RELEASES/{manifest['name']}/{manifest['version']} --json`."]
    for key, title in (("added", "Added"), ("removed", "Removed"), ("changed", "Changed"),
                       ("labels_changed", "Labels changed"), ("documents_moved_split", "Documents moved to another split")):
        ids = changes[key]
        if ids:
            shown = ", ".join(f"`{i}`" for i in ids[:50])
            more = f" … and {len(ids) - 50:,} more" if len(ids) > 50 else ""
            lines.append(f"\n### {title}\n\n{shown}{more}")
    return "\n".join(lines) + "\n"


def chart(stats: dict, path: Path) -> None:
    """Records per type per split (stacked bars) and the distribution of label agreement, as a
    PNG whose bytes depend only on the numbers (no software or date chunk)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "builder", "font.family": "DejaVu Sans",
                                "path.simplify": True}):
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        bottom = [0] * len(SPLITS)
        for t in TYPE_NAMES:
            vals = [stats["splits"][s]["types"][t] for s in SPLITS]
            left.bar(SPLITS, vals, bottom=bottom, label=t)
            bottom = [a + b for a, b in zip(bottom, vals)]
        left.set_title("Records per type and split")
        left.set_ylabel("records")
        left.legend(fontsize=8)
        hist = stats["total"]["agreement_hist"]
        if sum(hist):
            right.bar([i / 10 + 0.05 for i in range(10)], hist, width=0.09)
            right.set_xlim(0, 1)
            right.set_xlabel("agreement (share of annotators giving the majority label)")
            right.set_ylabel("labeled records")
            right.set_title("Label agreement")
        else:
            right.axis("off")
            right.text(0.5, 0.5, "no human labels in this release", ha="center", va="center")
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png", metadata={"Software": None})
        plt.close(fig)
        tmp.replace(path)
