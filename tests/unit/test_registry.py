"""The stage registry: a stage declared in a few lines appears in the command line, `run`,
`status`, lineage and the query views; and what the registry derives is what the pipeline is."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pytest

from longtail import stages
from longtail.jobs.cli import build_parser, main
from longtail.output.context import Planned, run_stages
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage, rerun_command
from longtail.output.views import connect
from longtail.query.status import stage_rows
from longtail.stage_config import option
from tests.unit.test_lineage import ToyLink

WORDS = pa.schema([("source", pa.string()), ("words", pa.int64())])


@dataclass(frozen=True)
class WordsConfig:
    per_line: int = option(1, "--words-per-line", type=int, help="words counted per line")


def count_words(ctx, config: WordsConfig):
    """A toy stage: one row per source of `docs`."""
    with ctx.whole(config) as run:
        docs = ctx.out.read_table("docs", run.committed_files("docs"), ["source"])
        sources = docs["source"].to_pylist()
        names = sorted(set(sources))
        run.write("words", pa.table({"source": names, "words": [
            sources.count(n) * config.per_line for n in names]}, schema=WORDS))
    return run.record


@pytest.fixture
def toy_stage():
    stage = stages.register(stages.Stage(
        "words", ("words",), "count words per source", WordsConfig,
        f"{__name__}:count_words", reads=("docs",), writes=("words",), in_run=True,
        schemas={"words": WORDS}))
    yield stage
    stages.unregister("words")


def test_the_registry_derives_the_pipeline():
    assert [s.name for s in stages.run_order()] == ["link", "qa", "index", "count"]
    assert stages.writers_of("entity_uris") == ("link", "qa", "import")
    assert rerun_command("accuracy") == "longtail analyze accuracy"
    assert rerun_command("import") == "longtail import paper"
    for stage in stages.STAGES.values():  # every declared entry point is there
        assert callable(stage.entry_function()), stage.name


def test_a_toy_stage_appears_in_run_status_query_and_lineage(tmp_path, toy_stage, capsys):
    assert [s.name for s in stages.run_order()][-1] == "words"
    assert "words" in build_parser().format_help()
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--words-per-line" in capsys.readouterr().out
    out = OutputFolder(str(tmp_path / "out"))
    paths = []
    for name, n in (("a.txt", 5), ("b.txt", 7)):
        (tmp_path / name).write_text("line\n" * n, encoding="utf-8")
        paths.append(str(tmp_path / name))
    ToyLink(out, paths).run()
    records = run_stages([Planned(toy_stage, WordsConfig(per_line=2))], out,
                         require_reads=True, say=lambda m: None)
    assert records["words"].upstream == {"link": Lineage(out).records["link"].run_id}
    assert [r["stage"] for r in stage_rows(out)] == ["link", "words"]
    assert stage_rows(out)[1]["state"] == "fresh"
    with connect(out, reads=["words"]) as con:
        assert con.execute("SELECT sum(words) FROM words").fetchone()[0] == 24
    said: list[str] = []
    run_stages([Planned(toy_stage, WordsConfig(per_line=2))], out, skip_up_to_date=True,
               say=said.append)
    assert said == ["[longtail] words    up to date (nothing it reads changed since it ran)"]
    assert main(["words", "--out", out.location, "--words-per-line", "3"]) == 0
    assert Lineage(out).records["words"].parameters == {"per_line": 3}
