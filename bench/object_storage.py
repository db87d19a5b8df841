"""The whole pipeline on the bundled sample with everything on a local disk, then with the
corpus, QA file, model and output on s3:// (a local S3-compatible server, moto, on
127.0.0.1), in one run; prints both times and the ratio.

    .venv/bin/python bench/object_storage.py [--repeat 2] [--rows-per-shard 100]

Each run is the real command, `longtail run ... --master local[2]`, in a fresh process (Spark
start-up included in both). The model is the sample's, built once with Spark into
bench/out/object_storage/model. The S3 run copies the model into a fresh cache, as a new
machine would. What is measured is the cost of the storage layer and of the store's
round trips, not of a network: the server is on this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA, SAMPLE_WIKI  # noqa: E402

OUT = ROOT / "bench" / "out" / "object_storage"
BUCKET = "longtail-bench"
KEYS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_model() -> Path:
    model = OUT / "model"
    if not (model / "model.json").is_file():
        print(f"building the sample model into {model} (Spark, about a minute)", flush=True)
        subprocess.run([sys.executable, "-m", "longtail.jobs.build_model", "--wikipedia",
                        str(SAMPLE_WIKI), "--out", str(model), "--master", "local[2]",
                        "--min-sf-count", "1", "--min-token-count", "1"], check=True,
                       stdout=subprocess.DEVNULL)
    return model


def run_pipeline(corpus: str, qa: str, model: str, out: str, rows_per_shard: int,
                 env: dict[str, str]) -> float:
    command = [sys.executable, "-m", "longtail.jobs.cli", "run", "--corpus", corpus, "--qa", qa,
               "--qa-format", "nq-open", "--model", model, "--confidence", "0.4", "--out", out,
               "--rows-per-shard", str(rows_per_shard), "--qa-rows-per-shard", "20",
               "--min-cooccurrence", "1", "--master", "local[2]"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the run failed:\n{result.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (default 2)")
    parser.add_argument("--rows-per-shard", type=int, default=100)
    args = parser.parse_args()
    model = sample_model()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import boto3
        import requests

        for _ in range(100):
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(SAMPLE_CORPUS), BUCKET, "corpus/sample-corpus.jsonl")
        s3.upload_file(str(SAMPLE_QA), BUCKET, "qa/sample-qa.jsonl")
        for file in sorted(p for p in model.rglob("*") if p.is_file()):
            s3.upload_file(str(file), BUCKET, f"model/{file.relative_to(model).as_posix()}")
        env = {**os.environ, **KEYS, "AWS_ENDPOINT_URL": endpoint}
        local_times, s3_times = [], []
        for attempt in range(args.repeat):
            local_out = OUT / f"local-{attempt}"
            shutil.rmtree(local_out, ignore_errors=True)
            local_times.append(run_pipeline(str(SAMPLE_CORPUS), str(SAMPLE_QA), str(model),
                                            str(local_out), args.rows_per_shard, env))
            cache = OUT / f"cache-{attempt}"
            shutil.rmtree(cache, ignore_errors=True)
            s3_times.append(run_pipeline(
                f"s3://{BUCKET}/corpus/sample-corpus.jsonl", f"s3://{BUCKET}/qa/sample-qa.jsonl",
                f"s3://{BUCKET}/model", f"s3://{BUCKET}/out-{attempt}", args.rows_per_shard,
                {**env, "LONGTAIL_MODEL_CACHE": str(cache)}))
            print(f"run {attempt + 1}: local {local_times[-1]:.1f} s, s3 {s3_times[-1]:.1f} s",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    local, remote = statistics.median(local_times), statistics.median(s3_times)
    print(f"sample pipeline (314 documents, 66 questions, `longtail run`, local[2]), median of "
          f"{args.repeat}: local disk {local:.1f} s; s3:// on a local S3 server {remote:.1f} s; "
          f"ratio s3/local {remote / local:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
