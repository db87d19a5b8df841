"""One writer at a time: the lock a writing command holds on OUT for as long as it runs.

Readers (`status`, `query`, `docs`) never take it and never wait. A second writer stops at
once with one line naming the holder (host, process id, command, since when).

- **Local folders** (and shared file systems with POSIX locks: NFSv4, Lustre): an advisory
  `flock` on `OUT/_lock`, whose content names the holder. The kernel drops the lock when its
  process ends, however it ends (`kill -9` included), so a lock left by a killed run is taken
  over by the next writer, which says so.
- **S3 and S3-compatible stores**: `OUT/_lock.json` created with a conditional PUT
  (`If-None-Match: *`: exactly one of two writers creates it) holding a lease that the holder
  renews every `RENEW_SECONDS`. A lease not renewed for `LEASE_SECONDS` (its holder was
  killed), or held by a process of this machine that is no longer running, is taken over with
  a conditional PUT on the stale lock's ETag (`If-Match`), so two writers taking over at once
  cannot both win. The holder checks its lease before committing.
- **Other stores** (gs://, hdfs://, abfs://): pyarrow exposes no conditional write there; the
  lock is the same lease, created only when absent and read back, which serialises writers
  that do not start within the same second: run one writer at a time there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass

from longtail.errors import UsageError
from longtail.output.storage import Storage

LOCAL_LOCK = "_lock"
REMOTE_LOCK = "_lock.json"
LEASE_SECONDS = 120.0
RENEW_SECONDS = 30.0


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    command: str
    since: str
    token: str = ""
    expires: float = 0.0

    def describe(self) -> str:
        return (f"`{self.command}` (process {self.pid} on {self.host}, since {self.since})")


def this_holder(command: str, lease: float = 0.0) -> Holder:
    return Holder(socket.gethostname(), os.getpid(), command,
                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), uuid.uuid4().hex,
                  time.time() + lease if lease else 0.0)


def _parse(data: bytes) -> Holder | None:
    try:
        return Holder(**json.loads(data.decode("utf-8")))
    except (ValueError, TypeError):
        return None


def _gone(holder: Holder) -> bool:
    """Whether a lease's holder is known to have ended: a process of this machine that is no
    longer running (its lease need not be waited out)."""
    if holder.host != socket.gethostname():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def current_command() -> str:
    words = [os.path.basename(sys.argv[0]) or "longtail", *sys.argv[1:]]
    if words[0] in ("cli.py", "__main__.py", "submit.py"):
        words[0] = "longtail"
    text = " ".join(words)
    return text if len(text) <= 200 else text[:197] + "..."


class FolderLock:
    """`with FolderLock(storage, command): ...` holds OUT for one writing command."""

    def __init__(self, storage: Storage, command: str | None = None, *, say=None):
        self.storage = storage
        self.command = command or current_command()
        self.say = say
        self.taken_over: Holder | None = None
        self._file = None
        self._remote: _LeaseLock | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self, wait: bool = False) -> None:
        if self.storage.local:
            self._acquire_local()
        else:
            self._remote = _LeaseLock(self.storage, self.command)
            self.taken_over = self._remote.acquire()
        if self.taken_over is not None and self.say:
            self.say(f"took over the lock on {self.storage.display()} left by "
                     f"{self.taken_over.describe()}, which is no longer running")

    def try_acquire(self) -> bool:
        """Take the lock if it is free (for readers tidying up); False when it is held."""
        try:
            self.acquire()
        except UsageError:
            return False
        return True

    def check(self) -> None:
        """Stop before committing when the lock was lost (an object store's lease expired and
        another writer took it)."""
        if self._remote is not None:
            self._remote.check()

    def release(self) -> None:
        if self._file is not None:
            import fcntl

            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._remote is not None:
            self._remote.release()
            self._remote = None

    def _acquire_local(self) -> None:
        import fcntl

        path = self.storage.local_path(LOCAL_LOCK)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - held for the command's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = _parse(handle.read())
            handle.close()
            who = holder.describe() if holder else "another longtail command"
            raise UsageError(f"{self.storage.display()} is being written by {who}; wait for it "
                             "to finish, or stop it (a stopped run resumes)") from None
        handle.seek(0)
        previous = _parse(handle.read())
        if previous is not None and previous.pid != os.getpid():
            self.taken_over = previous
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(this_holder(self.command))).encode("utf-8"))
        handle.flush()
        self._file = handle


class _LeaseLock:
    """The object-store lock: a lease object created and renewed by conditional writes."""

    def __init__(self, storage: Storage, command: str):
        self.storage = storage
        self.command = command
        self.etag: str | None = None
        self.holder: Holder | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._s3 = _S3Conditional.for_storage(storage)

    def acquire(self) -> Holder | None:
        taken_over = None
        holder = this_holder(self.command, LEASE_SECONDS)
        body = json.dumps(asdict(holder)).encode("utf-8")
        if self._s3 is not None:
            etag = self._s3.put(REMOTE_LOCK, body, if_none_match=True)
            if etag is None:
                current, current_etag = self._s3.get(REMOTE_LOCK)
                if current is not None and current.expires > time.time() \
                        and not _gone(current):
                    raise self._held(current)
                etag = self._s3.put(REMOTE_LOCK, body, if_match=current_etag)
                if etag is None:  # another writer took it over first
                    current, _ = self._s3.get(REMOTE_LOCK)
                    raise self._held(current)
                taken_over = current
        else:
            try:
                existing = self.storage.read_bytes(REMOTE_LOCK)
            except FileNotFoundError:
                existing = None
            current = _parse(existing) if existing else None
            if current is not None and current.expires > time.time() and not _gone(current):
                raise self._held(current)
            taken_over = current
            self.storage.write_bytes(REMOTE_LOCK, body)
            time.sleep(1.0)
            if _parse(self.storage.read_bytes(REMOTE_LOCK)) != holder:
                raise self._held(_parse(self.storage.read_bytes(REMOTE_LOCK)))
            etag = None
        self.etag, self.holder = etag, holder
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()
        return taken_over

    def _held(self, holder: Holder | None) -> UsageError:
        who = holder.describe() if holder else "another longtail command"
        return UsageError(f"{self.storage.display()} is being written by {who}; wait for it to "
                          "finish, or stop it (its lease then expires within "
                          f"{int(LEASE_SECONDS)} s)")

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            holder = Holder(**{**asdict(self.holder), "expires": time.time() + LEASE_SECONDS})
            body = json.dumps(asdict(holder)).encode("utf-8")
            try:
                if self._s3 is not None:
                    etag = self._s3.put(REMOTE_LOCK, body, if_match=self.etag)
                    if etag is None:
                        self.lost = True
                        return
                    self.etag = etag
                else:
                    self.storage.write_bytes(REMOTE_LOCK, body)
                self.holder = holder
            except OSError:
                continue  # the store is briefly unreachable: try again at the next beat

    def check(self) -> None:
        if self.lost or (self.holder is not None and self.holder.expires < time.time()):
            raise UsageError(f"lost the lock on {self.storage.display()} (its lease expired and "
                             "another writer took it): nothing was committed; run again")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.lost:
            return
        with contextlib.suppress(OSError):
            if self._s3 is not None:
                self._s3.delete(REMOTE_LOCK, self.etag)
            else:
                self.storage.delete(REMOTE_LOCK)


class _S3Conditional:
    """Conditional PUT/GET/DELETE of one small object on S3 through boto3 (pyarrow's S3
    filesystem has no conditional writes)."""

    def __init__(self, client, bucket: str, prefix: str):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def for_storage(cls, storage: Storage) -> _S3Conditional | None:
        from longtail.output.remote import scheme_of

        if scheme_of(storage.location) not in ("s3", "s3a"):
            return None
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise UsageError("writing to s3:// needs boto3 for its lock: pip install boto3") \
                from None
        bucket, _, prefix = storage.root.partition("/")
        client = boto3.client("s3", endpoint_url=storage.endpoint,
                              config=Config(retries={"max_attempts": 4},
                                            connect_timeout=5, read_timeout=30))
        return cls(client, bucket, prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{name}" if self.prefix else name

    def put(self, name: str, body: bytes, *, if_none_match: bool = False,
            if_match: str | None = None) -> str | None:
        """The new object's ETag, or None when the condition failed."""
        from botocore.exceptions import ClientError

        options: dict = {"Bucket": self.bucket, "Key": self.key(name), "Body": body}
        if if_none_match:
            options["IfNoneMatch"] = "*"
        if if_match:
            options["IfMatch"] = if_match
        try:
            return self.client.put_object(**options)["ETag"]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") \
                    or status in (409, 412):
                return None
            raise OSError(f"cannot write {self.key(name)}: {code or err}") from None

    def get(self, name: str) -> tuple[Holder | None, str | None]:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError:
            return None, None
        return _parse(found["Body"].read()), found["ETag"]

    def delete(self, name: str, etag: str | None) -> None:
        holder, current = self.get(name)
        if current == etag:  # never delete a lock another writer holds now
            self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
