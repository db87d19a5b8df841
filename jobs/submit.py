"""spark-submit's entry to longtail: `spark-submit jobs/submit.py COMMAND [flags]`.

COMMAND is any stage (`link`, `qa`, `index`, `count`, ...) or `run`, with the flags of the
matching `longtail` command; the session takes spark-submit's master and configuration.
From an installed longtail, `python -m longtail.jobs.submit --where` prints this file's path.
"""

from __future__ import annotations

import sys

from longtail.jobs.cli import main

if __name__ == "__main__":
    if sys.argv[1:] == ["--where"]:
        print(__file__)
        sys.exit(0)
    sys.exit(main())
