"""MLCommons Croissant 1.0 metadata for a release (croissant.json), written as plain JSON-LD from
the manifest and the schemas so that publishing does not need mlcroissant; the tests validate it
with mlcroissant and read records through it.

One FileSet and one RecordSet per split (the Parquet files of data/); `type` and `label` refer to
a small `classes` record set that names the class indices. No datePublished: nothing in a release
depends on the wall clock."""

from __future__ import annotations

from builder.schema import LABELS_SCHEMA, SCHEMA, TYPE_NAMES

SPLITS = ("train", "validation", "test")

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

_DATATYPE = {
    "string": "sc:Text",
    "int32": "sc:Integer",
    "int64": "sc:Integer",
    "class_label": "sc:Integer",
    "float32": "sc:Float",
    "float64": "sc:Float",
    "bool": "sc:Boolean",
}


def _fields(split: str) -> list[dict]:
    out = []
    for name, prop in [*SCHEMA["properties"].items(), *LABELS_SCHEMA["properties"].items()]:
        field = {"@type": "cr:Field", "@id": f"{split}/{name}", "name": name,
                 "description": prop.get("description", ""),
                 "source": {"fileSet": {"@id": f"parquet-{split}"}, "extract": {"column": name}}}
        if prop["x-arrow"] == "list_struct":
            field["repeated"] = True
            field["subField"] = [
                {"@type": "cr:Field", "@id": f"{split}/{name}/{sub}", "name": sub, "dataType": _DATATYPE[p["x-arrow"]],
                 "source": {"fileSet": {"@id": f"parquet-{split}"}, "extract": {"column": name},
                            "transform": {"jsonPath": sub}}}
                for sub, p in prop["items"]["properties"].items()
            ]
        else:
            field["dataType"] = _DATATYPE[prop["x-arrow"]]
        if prop["x-arrow"] == "class_label":
            field["references"] = {"field": {"@id": "classes/index"}}
        out.append(field)
    return out


def metadata(manifest: dict, stats: dict) -> dict:
    name, version = manifest["name"], manifest["version"]
    labeled = stats["total"]["rows"] - stats["total"]["label_status"]["unlabeled"]
    classes = {
        "@type": "cr:RecordSet", "@id": "classes", "name": "classes",
        "description": "Names of the class indices in `type` and `label`.",
        "dataType": "sc:Enumeration", "key": {"@id": "classes/index"},
        "field": [
            {"@type": "cr:Field", "@id": "classes/index", "name": "index", "dataType": "sc:Integer"},
            {"@type": "cr:Field", "@id": "classes/name", "name": "name", "dataType": "sc:Text"},
        ],
        "data": [{"classes/index": i, "classes/name": n} for i, n in enumerate(TYPE_NAMES)],
    }
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": name,
        "description": (f"Typed segments (article, quote, comment, reply, spam) of scraped news pages, "
                        f"{stats['total']['rows']} records from {stats['documents']} documents; "
                        f"{labeled} records carry human labels. Fingerprint {manifest['fingerprint']}."),
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "citeAs": f"{name} {version}, fingerprint {manifest['fingerprint']}",
        "license": "other",
        "url": f"https://example.invalid/datasets/{name}/{version}",
        "version": version,
        "keywords": ["news", "comments", "spam", "quotes", "segmentation"],
        "distribution": [
            {"@type": "cr:FileSet", "@id": f"parquet-{s}", "name": f"parquet-{s}",
             "description": f"The {s} split: {manifest['splits'][s]['rows']} rows; sha256 of each file in manifest.json.",
             "encodingFormat": "application/x-parquet", "includes": f"data/{s}-*.parquet"}
            for s in SPLITS
        ],
        "recordSet": [classes] + [
            {"@type": "cr:RecordSet", "@id": s, "name": s,
             "description": f"Records of the {s} split, ordered by doc_id and position.",
             "key": {"@id": f"{s}/record_id"}, "field": _fields(s)}
            for s in SPLITS
        ],
    }
