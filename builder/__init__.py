"""Dataset builder: raw web documents → typed records → Label Studio labels → versioned Parquet releases."""

__version__ = "0.1.0"
