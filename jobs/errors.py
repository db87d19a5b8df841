"""How the `longtail` command and the job scripts end: one line for what a user can act on.

Wrong usage, a missing optional extra, an output folder that cannot be written to, and known
failures wrapped by Spark end with `longtail: error: ...` and no traceback; a closed pipe
(`longtail annotate ... | head`) ends quietly.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence

from longtail.errors import UsageError

# Optional imports and the extra that brings each.
EXTRAS = {"scipy": "analysis", "matplotlib": "analysis", "datasketch": "analysis",
          "huggingface_hub": "hub", "adlfs": "azure",
          "venv_pack": "cluster", "packaging": "cluster"}
USER_OS_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_BROKEN_PIPE = 141  # as a command killed by SIGPIPE


def say_error(message: str) -> None:
    print(f"longtail: error: {message}", file=sys.stderr)


def run_guarded(handler: Callable[[Sequence[str] | None], int],
                argv: Sequence[str] | None = None) -> int:
    """Run a command's handler and turn the failures a user can act on into one line."""
    try:
        return handler(argv)
    except UsageError as err:
        say_error(str(err))
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away: send what is left to nowhere, so Python's own flush at
        # exit does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("longtail: interrupted; finished shards are kept, run again to resume",
              file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        extra = EXTRAS.get((err.name or "").split(".")[0])
        if extra is None:
            raise
        packages = ", ".join(extra_packages(extra)) or err.name
        say_error(f"this command needs the {extra} extra ({packages}; {err.name} is not "
                  f"installed): pip install 'longtail[{extra}]'")
        return EXIT_USAGE
    except OSError as err:
        if err.errno not in USER_OS_ERRORS:
            raise
        where = f": {err.filename}" if err.filename else ""
        say_error(f"{os.strerror(err.errno).lower()}{where}")
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001 - last line of defence: name the known causes
        hint = known_cause(err)
        if hint is None:
            raise
        say_error(hint)
        return EXIT_FAILED


def extra_packages(extra: str) -> list[str]:
    """The packages an extra of longtail installs, from the installed metadata."""
    import re
    from importlib import metadata

    try:
        requires = metadata.requires("longtail") or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for requirement in requires:
        name, _, marker = requirement.partition(";")
        if re.search(rf"extra\s*==\s*[\"']{re.escape(extra)}[\"']", marker):
            found.append(re.split(r"[<>=!~\[ ]", name.strip(), maxsplit=1)[0])
    return found


RESUME = "finished shards are kept: run the same command again to resume"
STORE_DOWN = ("AWS Error NETWORK_CONNECTION", "curlCode: 7", "Couldn't connect to server",
              "Connection refused", "Could not connect to the endpoint")


def known_cause(err: Exception) -> str | None:
    """One line for failures a user can act on, also when Spark wraps them in its own error."""
    text = f"{type(err).__name__}: {err}"
    for line in text.splitlines():
        for marker in ("EndpointsUnreachable: ", "UsageError: "):
            if marker in line:
                return line.split(marker, 1)[1].strip()
    for line in text.splitlines():
        if "No space left on device" in line or "[Errno 28]" in line:
            where = line.split("No space left on device", 1)[-1].strip(" :'\"")
            return (f"no space left on device{f' ({where})' if where else ''}; nothing of "
                    f"the unfinished stage is committed: free some space, then {RESUME}")
        if any(marker in line for marker in STORE_DOWN):
            detail = next(m for m in STORE_DOWN if m in line)
            return (f"the object store stopped answering ({detail}); nothing of the "
                    f"unfinished stage is committed: {RESUME}")
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        java = os.environ.get("JAVA_HOME", "java on PATH")
        return f"Spark could not start Java ({java}); install a Java 17 runtime"
    return None


def job_main(main: Callable[[Sequence[str] | None], int]) -> None:
    """`sys.exit` of a job script's main, with the same one-line errors as `longtail`."""
    sys.exit(run_guarded(main, None))
