#!/usr/bin/env bash
# Submit `longtail run` (jobs/submit.py run) to the compose file's Spark master, linking with the running replicas.
# Arguments are passed on to `longtail run` (--corpus, --qa, --qa-format, --out, ...).
#
#   LINKER=spotlight  every `spotlight` replica, http://<project>-spotlight-<i>:80/rest
#   LINKER=serve      every `serve` replica, http://<project>-serve-<i>:2222/rest
#   LINKER=model      no endpoints: pass --model /models/<name> yourself
#
# The image is the Python environment of the driver and of every executor, so no archive is
# shipped; on clusters without this image use `longtail pack` and --archives (README).
set -euo pipefail

project="${COMPOSE_PROJECT_NAME:-longtail}"
linker="${LINKER:-spotlight}"
case "$linker" in
  spotlight) service=spotlight; port=80; replicas="${SPOTLIGHT_REPLICAS:-2}" ;;
  serve) service=serve; port=2222; replicas="${SERVE_REPLICAS:-2}" ;;
  model) service=""; replicas=0 ;;
  *) echo "submit.sh: LINKER must be spotlight, serve or model, not '$linker'" >&2; exit 2 ;;
esac
if ! [[ "$replicas" =~ ^[0-9]+$ ]]; then
  echo "submit.sh: replica count must be a number, not '$replicas'" >&2
  exit 2
fi

linker_args=()
if [ -n "$service" ]; then
  linker_args+=(--spotlight)
  for ((i = 1; i <= replicas; i++)); do
    linker_args+=("http://${project}-${service}-${i}:${port}/rest")
  done
  linker_args+=(--max-in-flight "${MAX_IN_FLIGHT:-1}")
fi

exec spark-submit \
  --master "${SPARK_MASTER:-spark://spark-master:7077}" \
  --deploy-mode client \
  --driver-memory "${DRIVER_MEMORY:-4g}" \
  --conf "spark.executor.cores=${EXECUTOR_CORES:-4}" \
  --conf "spark.executor.memory=${EXECUTOR_MEMORY:-6g}" \
  /opt/longtail/jobs/submit.py run "${linker_args[@]}" "$@"
