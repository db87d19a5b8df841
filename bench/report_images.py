"""The README's pictures of `longtail report` and `longtail compare`, made by the real commands.

    .venv/bin/python bench/report_images.py [--workdir DIR]

Builds the bundled sample linked at confidence 0.4 and at 0.1 (without Spark, as the tests
do: tests/sample_outputs.py), writes the report of the 0.4 folder with the lm-eval fixture's
NQ-open samples as predictions, opens it in Debian's chromium (Playwright, every request but
the page's own refused) and writes docs/images/report.png (the top of the page) and
docs/images/report-explorer.png (the explorer after typing "eiffel"), and the compare plot
of the two folders, docs/images/compare.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.jobs.cli import main as longtail  # noqa: E402
from tests.sample_outputs import build_sample_out, sample_model  # noqa: E402

IMAGES = ROOT / "docs" / "images"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def screenshots(page: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        view = browser.new_page(viewport={"width": 1100, "height": 1000})
        view.route("**/*", lambda r: r.continue_() if r.request.url == page.as_uri()
                   else r.abort())
        view.goto(page.as_uri())
        view.wait_for_selector("#explorer-status[data-ready=true]")
        view.screenshot(path=str(IMAGES / "report.png"))
        view.fill("#search", "eiffel")
        view.locator(".card").first.wait_for()
        view.locator("#explorer").screenshot(path=str(IMAGES / "report-explorer.png"))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "report-images"))
    args = parser.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.chdir(work)  # the folders are recorded and shown by these short names
    model = sample_model(Path("model"))
    build_sample_out("sample-0.4", "model", 0.4)
    build_sample_out("sample-0.1", model, 0.1)
    [samples] = (ROOT / "tests" / "fixtures" / "lm_eval").glob("samples_*nq_open*.jsonl")
    longtail(["report", "sample-0.4", "--predictions", str(samples), "--labels",
              "dummy model (lm-eval nq_open)", "--html", "report.html"])
    screenshots(work / "report.html")
    longtail(["compare", "sample-0.4", "sample-0.1", "--names", "conf-0.4", "conf-0.1",
              "--plot", str(IMAGES / "compare.png")])


if __name__ == "__main__":
    main()
