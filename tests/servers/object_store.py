"""A real S3-compatible server on 127.0.0.1 for the tests: moto's standalone server, in its
own process.

    with S3Server() as s3:                  # any credentials are accepted
        s3.client().create_bucket(Bucket="data")
    with S3Server(authenticated=True) as s3:  # only s3.key / s3.secret are
        ...
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.processes import stop_process

ANY_KEY = ("longtail-test-key", "longtail-test-secret")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """moto's S3 server as a child process; `authenticated` makes it check signatures against
    one IAM user's key, created before the check starts."""

    def __init__(self, authenticated: bool = False):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.authenticated = authenticated
        self.key, self.secret = ANY_KEY
        env = {**os.environ}
        if authenticated:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"  # the user, its policy and its key
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the S3 test server did not start") from None
                time.sleep(0.1)
        if authenticated:
            iam = self.client("iam")
            iam.create_user(UserName="longtail")
            iam.put_user_policy(UserName="longtail", PolicyName="everything", PolicyDocument=(
                json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})))
            key = iam.create_access_key(UserName="longtail")["AccessKey"]
            self.key, self.secret = key["AccessKeyId"], key["SecretAccessKey"]

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """Environment for a process that uses this server (credentials and endpoint)."""
        return {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_ENDPOINT_URL": endpoint or self.endpoint, "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self, service: str = "s3"):
        import boto3

        return boto3.client(service, region_name="us-east-1", endpoint_url=self.endpoint,
                            aws_access_key_id=self.key, aws_secret_access_key=self.secret)

    def upload(self, bucket: str, prefix: str, path: Path) -> str:
        """Upload a file or a folder's files under s3://bucket/prefix; returns that URI."""
        client = self.client()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            key = prefix if path.is_file() else f"{prefix}/{file.relative_to(path).as_posix()}"
            client.upload_file(str(file), bucket, key)
        return f"s3://{bucket}/{prefix}"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                         Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        stop_process(self._proc)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def s3_environment(*buckets: str) -> Iterator[S3Server]:
    """A server with these buckets, its credentials and endpoint in this process's
    environment while the block runs (as a user's shell would have them)."""
    with S3Server() as server:
        for bucket in buckets:
            server.client().create_bucket(Bucket=bucket)
        saved = {key: os.environ.get(key) for key in server.env()}
        os.environ.update(server.env())
        try:
            yield server
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
