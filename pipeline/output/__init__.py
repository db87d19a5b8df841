"""The output folder: where every stage's tables, records and views live, and how they stay true.

- `storage`, `remote`: one storage layer for local folders and object stores.
- `folder`: OutputFolder, the layout of OUT and the commit protocol of its table files.
- `lineage`: stage records, and whether each stage is fresh or stale.
- `runner`: the one stage runner (sharded stages that resume, whole stages).
- `manifest`, `views`: OUT/manifest.json and the DuckDB views over the committed files.
- `failures`: the failure record every stage writes for input it could not use.
"""
