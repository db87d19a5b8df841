"""The pipeline's stages called as the tests call them: through the registry and the one
stage runner (`run_stages`), as `longtail <stage>` and `longtail run` do; stats returned."""

from __future__ import annotations

import argparse

from longtail import stage_config, stages
from longtail.output.context import Planned, run_stage, run_stages
from longtail.output.folder import OutputFolder


def _quiet(message: str) -> None:
    return None


def run_link(spark, config, spec, out, *, overwrite=False, say=_quiet) -> dict:
    return run_stage("link", config, out, spark=spark, linker=spec, overwrite=overwrite,
                     say=say).stats


def run_qa(spark, config, spec, out, *, overwrite=False, say=_quiet) -> dict:
    return run_stage("qa", config, out, spark=spark, linker=spec, overwrite=overwrite,
                     say=say).stats


def run_index(spark, config, out, *, say=_quiet) -> dict:
    return run_stage("index", config, out, spark=spark, say=say).stats


def run_count(spark, config, out, *, say=_quiet) -> dict:
    return run_stage("count", config, out, spark=spark, say=say).stats


def run_all(spark, args: argparse.Namespace, say=_quiet) -> dict:
    """`longtail run` with parsed flags: every stage's stats."""
    linker = stage_config.linker_spec(args)
    planned = [Planned(stage, stage_config.from_args(stage.config, args),
                       linker if stage.linker else None) for stage in stages.run_order()]
    records = run_stages(planned, OutputFolder(args.out), spark=spark,
                         overwrite=args.overwrite, skip_up_to_date=True, say=say)
    return {name: record.stats for name, record in records.items()}
