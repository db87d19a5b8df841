"""Filesystems behind URIs: s3:// natively through pyarrow, gs:// and hdfs:// where pyarrow
reaches them, http(s):// through `longtail.output.http`, hf:// through huggingface_hub's
`HfFileSystem` (the `hub` extra), and any other scheme through fsspec (abfs:// with adlfs, ...).

hf:// takes its token from `HF_TOKEN` only (never from a saved login, never recorded) and the
Hub's address from `HF_ENDPOINT` (a mirror, or a local server in the tests).

S3 takes the standard AWS credential chain (environment, profile, instance role) and an
endpoint for S3-compatible stores from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (what
`--s3-endpoint` sets, and what Spark executors get through `spark.executorEnv`). Credentials
are never read, printed or recorded here; a URI that carries them (`s3://key:secret@bucket`)
is shown without them.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from longtail.errors import UsageError

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# fsspec schemes and the extra of longtail that installs their library.
FSSPEC_EXTRAS = {"abfs": "azure", "abfss": "azure", "az": "azure", "adl": "azure"}
HTTP_SCHEMES = ("http", "https")
HUB_SCHEME = "hf"
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
S3_CONNECT_SECONDS = 5.0
S3_REQUEST_SECONDS = 60.0
S3_ATTEMPTS = 4


def redact(location: str) -> str:
    """A URI without any credentials written into it."""
    return _USERINFO.sub(r"\1", location)


def scheme_of(location: str) -> str:
    return location.split("://", 1)[0].lower()


def s3_endpoint() -> str | None:
    return next((os.environ[v] for v in ENDPOINT_VARIABLES if os.environ.get(v)), None)


def remote_filesystem(location: str, endpoint: str | None = None
                      ) -> tuple[pafs.FileSystem, str]:
    """The filesystem of a URI and the path of its root on it (no trailing slash)."""
    scheme = scheme_of(location)
    if scheme in ("s3", "s3a"):
        return _s3(location, endpoint)
    if scheme in ("gs", "gcs", "hdfs", "viewfs"):
        try:
            fs, path = pafs.FileSystem.from_uri(location)
        except (OSError, ValueError, ImportError) as err:
            need = ("Hadoop's libhdfs (set HADOOP_HOME, JAVA_HOME and CLASSPATH as pyarrow's "
                    "HDFS support asks)" if scheme in ("hdfs", "viewfs") else
                    "pyarrow built with GCS support")
            raise UsageError(f"cannot open {redact(location)}: {first_line(err)}; {scheme}:// "
                             f"needs {need}") from None
        return fs, path.rstrip("/")
    if scheme in HTTP_SCHEMES:
        from longtail.output.http import HttpHandler

        return pafs.PyFileSystem(HttpHandler(scheme)), location.split("://", 1)[1].rstrip("/")
    if scheme == HUB_SCHEME:
        return _hub(location)
    return _fsspec(location, scheme)


def check_listable(pattern: str) -> None:
    """Stop with one line when a glob names a store that cannot be listed (plain HTTP)."""
    if scheme_of(pattern) in HTTP_SCHEMES:
        raise UsageError(f"{redact(pattern)}: an HTTP server cannot be listed, so a glob "
                         "cannot be expanded there; name each URL, or put them in a file, "
                         "one per line, and pass @FILE")


class _HubHandler(pafs.FSSpecHandler):
    """huggingface_hub's filesystem, and each file's git blob id as its identity."""

    def __init__(self, fs, api):
        super().__init__(fs)
        self.api = api

    def __reduce__(self):
        return _hub_handler, ()

    def resolve(self, path: str):
        """The repository, revision and path in it; a repository that cannot be reached is
        a PermissionError (the Hub answers alike for a missing and a private one)."""
        try:
            return self.fs.resolve_path(path)
        except FileNotFoundError:
            token = "" if os.environ.get("HF_TOKEN") else " (HF_TOKEN is not set)"
            raise PermissionError(
                f"{HUB_SCHEME}://{path}: no such repository or revision, or it is private or "
                f"gated and HF_TOKEN gives no access to it{token}") from None

    def get_file_info_selector(self, selector):
        self.resolve(selector.base_dir)
        return super().get_file_info_selector(selector)

    def file_stat(self, path: str):
        from longtail.output.storage import FileStat

        where = self.resolve(path)
        found = self.api.get_paths_info(where.repo_id, [where.path_in_repo],
                                        revision=where.revision, repo_type=where.repo_type)
        info = next((f for f in found if getattr(f, "blob_id", None)), None)
        if info is None:
            return None
        return FileStat(int(info.size), 0, info.blob_id)


def _hub_handler() -> _HubHandler:
    try:
        from huggingface_hub import HfApi, HfFileSystem
    except ImportError:
        raise UsageError("hf:// needs huggingface_hub: pip install 'longtail[hub]'") from None
    endpoint = os.environ.get("HF_ENDPOINT") or None
    token = os.environ.get("HF_TOKEN") or False  # False: no saved token either
    return _HubHandler(HfFileSystem(token=token, endpoint=endpoint),
                       HfApi(endpoint=endpoint, token=token))


def _hub(location: str) -> tuple[pafs.FileSystem, str]:
    path = location.split("://", 1)[1].rstrip("/")
    if path.count("/") < 1 or (path.split("/")[0] in ("datasets", "spaces")
                               and path.count("/") < 2):
        raise UsageError(f"{redact(location)} names no repository (hf://datasets/OWNER/NAME/"
                         "PATH, hf://OWNER/NAME/PATH for a model)")
    return pafs.PyFileSystem(_hub_handler()), path


def _s3(location: str, endpoint: str | None) -> tuple[pafs.FileSystem, str]:
    parts = urlsplit(redact(location))
    if not parts.netloc:
        raise UsageError(f"{redact(location)} names no bucket (s3://BUCKET/PREFIX)")
    options: dict = {
        "connect_timeout": S3_CONNECT_SECONDS, "request_timeout": S3_REQUEST_SECONDS,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=S3_ATTEMPTS),
        "allow_bucket_creation": False, "allow_bucket_deletion": False,
    }
    if endpoint:
        split = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = split.netloc
        options["scheme"] = split.scheme or "https"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    elif endpoint:
        options["region"] = "us-east-1"  # S3-compatible stores ignore it; AWS would look it up
    return pafs.S3FileSystem(**options), f"{parts.netloc}{parts.path}".rstrip("/")


def _fsspec(location: str, scheme: str) -> tuple[pafs.FileSystem, str]:
    extra = FSSPEC_EXTRAS.get(scheme)
    try:
        import fsspec
        from fsspec.core import split_protocol

        fs = fsspec.filesystem(scheme)
    except (ImportError, ValueError) as err:
        hint = f"pip install 'longtail[{extra}]'" if extra else \
            "install the fsspec library for it"
        raise UsageError(f"{scheme}:// is not reachable here ({first_line(err)}): {hint}") \
            from None
    _, path = split_protocol(location)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path.rstrip("/")


def first_line(err: BaseException) -> str:
    """An error's first line, without credentials a URI in it might carry."""
    text = str(err).strip().splitlines()
    return redact(text[0]) if text else type(err).__name__


def storage_error(location: str, err: OSError) -> UsageError:
    """One line for a store that cannot be reached or read: wrong credentials, a missing
    bucket, an endpoint that does not answer."""
    reason = first_line(err)
    for marker in ("AWS Error ", "curlCode"):
        if marker in reason:
            reason = reason[reason.index(marker):]
            break
    shown = redact(location)
    if reason.startswith(shown.rstrip("/") + "/"):  # the error names the file itself
        shown, _, reason = reason.partition(": ")
    return UsageError(f"cannot use {shown}: {reason}")
