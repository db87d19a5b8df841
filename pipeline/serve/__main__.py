"""`python -m longtail.serve --model MODEL [--port 0]`: the same as `longtail serve`."""

import sys

from longtail.serve.command import main

if __name__ == "__main__":
    sys.exit(main())
