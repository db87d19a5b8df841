"""Analyses of the counts: accuracy by relevant documents, counterfactual corpora, duplicates,
exposure timing, long-tail fact sets, and the formats of Kandpal et al. (2022).

`longtail.analysis.commands.register` adds them to the `longtail` command; their tables are
declared in `longtail.schemas.analysis`.
"""
