"""Static checks of docker/: no Docker engine runs here, so the files are checked against the
repository and against each other: the compose file parses, every image is built or known,
every file a Dockerfile copies is in the build context, every script, module, Spark class and
`longtail` subcommand they name exists, ports and volumes agree between services."""

from __future__ import annotations

import json
import os
import re
import shlex
import zipfile
from importlib.metadata import distribution
from pathlib import Path, PurePosixPath

import pytest

from longtail.jobs.cli import build_parser
from tests.cluster.standalone import spark_home

yaml = pytest.importorskip("yaml", reason="PyYAML is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
SUBMIT = DOCKER / "submit.sh"
IMAGE_SOURCE = PurePosixPath("/opt/longtail")  # where docker/Dockerfile copies the source
EXTERNAL_IMAGES = {"dbpedia/dbpedia-spotlight", "minio/minio"}
SPOTLIGHT_MODELS = "/opt/spotlight/models"  # the image's spotlight.sh reads models/<lang>


def interpolate(value):
    """Compose's `${VAR:-default}` with every variable unset: the defaults the file ships."""
    if isinstance(value, str):
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict:
    data = interpolate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined, current = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            joined.append(current.strip())
            current = ""
    return [(s.split(None, 1)[0].upper(), s.split(None, 1)[1]) for s in joined]


def copy_sources(path: Path) -> list[str]:
    sources = []
    for op, args in dockerfile_instructions(path):
        if op in ("COPY", "ADD"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            sources += words[:-1]
    return sources


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore `patterns` leave `relative` out of the build context: the last
    matching pattern wins, `!` re-includes, a pattern matching a folder covers its files."""
    def matches(pattern: str, path: str) -> bool:
        regex = re.escape(pattern.strip("/")).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        parts = path.split("/")
        return any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1))

    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if matches(pattern.lstrip("!"), relative):
            result = not negated
    return result


def ignore_patterns(dockerfile: Path) -> list[str]:
    path = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert path.is_file(), f"{path.name} missing"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def build_dockerfile(service: dict) -> Path:
    build = service["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == ROOT, "images are built from the repository root"
    return context / build.get("dockerfile", "Dockerfile")


# -- images and build contexts ----------------------------------------------------------------


def test_every_service_has_a_buildable_or_known_image(services):
    assert {"spark-master", "spark-worker", "spotlight", "serve", "submit"} <= services.keys()
    built = {s["image"] for s in services.values() if "build" in s}
    for name, service in services.items():
        if "build" in service:
            assert build_dockerfile(service).is_file(), name
        else:
            image = service["image"].split(":")[0]
            assert service["image"] in built or image in EXTERNAL_IMAGES, (name, image)


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.k8s"])
def test_every_copied_file_exists_and_is_in_the_build_context(name):
    dockerfile = DOCKER / name
    patterns = ignore_patterns(dockerfile)
    sources = copy_sources(dockerfile)
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"
        assert not ignored(source.rstrip("/"), patterns), f"{source} is outside the context"
    for heavy in (".venv", ".git", "demo-out", "tests", "pipeline/__pycache__"):
        assert ignored(heavy, patterns), f"{heavy} would be sent with the build context"


def test_job_image_runs_longtail_as_a_user_with_java_17():
    steps = dockerfile_instructions(DOCKER / "Dockerfile")
    base = next(args for op, args in steps if op == "FROM")
    assert re.fullmatch(r"python:3\.11-slim-bookworm", base)
    assert any(op == "RUN" and "openjdk-17-jre-headless" in args for op, args in steps)
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    entrypoint = [json.loads(args) for op, args in steps if op == "ENTRYPOINT"][-1]
    assert entrypoint == ["longtail"]
    scripts = [e.name for e in distribution("longtail").entry_points
               if e.group == "console_scripts"]
    assert "longtail" in scripts
    env = " ".join(args for op, args in steps if op == "ENV")
    spark = re.search(r"SPARK_HOME=(\S+)", env)
    assert spark and spark.group(1) == "/usr/local/lib/python3.11/site-packages/pyspark"


def test_kubernetes_image_installs_longtail_without_its_pyspark_requirement():
    steps = dockerfile_instructions(DOCKER / "Dockerfile.k8s")
    install = next(args for op, args in steps if op == "RUN" and "pip install" in args)
    commands = [c.strip() for c in install.split("&&")]
    wheel_install = next(c for c in commands if "install" in c and ".whl" in c)
    assert "--no-deps" in wheel_install, "the wheel alone would pull in pyspark"
    listed = next(c for c in commands if c.startswith("python3 -m longtail.packaging"))
    assert "/tmp/requirements.txt" in listed
    assert any(c.endswith("-r /tmp/requirements.txt") for c in commands)
    assert "pyspark" not in install
    assert [args for op, args in steps if op == "USER"][-1] == "spark"
    assert not [args for op, args in steps if op == "ENTRYPOINT"], "keep Spark's entrypoint"


# -- commands, scripts, classes ---------------------------------------------------------------


def spark_classes_exist(*classes: str) -> list[str]:
    jars = list((spark_home() / "jars").glob("spark-core_*.jar"))
    assert jars, "pyspark ships spark-core"
    with zipfile.ZipFile(jars[0]) as jar:
        names = set(jar.namelist())
    return [c for c in classes if c.replace(".", "/") + ".class" not in names]


def test_spark_daemons_start_with_classes_and_scripts_pyspark_ships(services):
    scripts = {Path(str(f)).name for f in distribution("pyspark").files or []
               if str(f).startswith("../")}
    assert {"spark-class", "spark-submit"} <= scripts  # on PATH in the image
    classes = []
    for name in ("spark-master", "spark-worker"):
        entrypoint = services[name]["entrypoint"]
        assert entrypoint[0] == "spark-class"
        classes.append(entrypoint[1])
    assert classes == ["org.apache.spark.deploy.master.Master",
                       "org.apache.spark.deploy.worker.Worker"]
    assert spark_classes_exist(*classes) == []


def test_longtail_commands_in_compose_exist_in_the_cli(services):
    subcommands = build_parser()._subparsers._group_actions[0].choices
    missing = []
    for name, service in services.items():
        if service.get("image", "").startswith("longtail") and "entrypoint" not in service:
            command = service["command"]
            if command[0] not in subcommands:
                missing.append((name, command[0]))
            else:
                subcommands[command[0]].parse_args(command[1:])
    if missing:
        pytest.skip(f"`longtail {missing[0][1]}` is not a command yet (used by {missing[0][0]})")


def test_submit_script_runs_a_job_that_exists_with_flags_it_accepts(services):
    entrypoint = services["submit"]["entrypoint"]
    assert entrypoint == [str(IMAGE_SOURCE / "docker" / "submit.sh")]
    assert "docker/submit.sh" in copy_sources(DOCKER / "Dockerfile")
    script = SUBMIT.read_text(encoding="utf-8")
    jobs = re.findall(r"/opt/longtail/(jobs/\w+\.py) (\w+)", script)
    assert jobs == [("jobs/submit.py", "run")] and (ROOT / jobs[0][0]).is_file()
    run_flags = set(build_parser()._subparsers._group_actions[0].choices["run"]
                    ._option_string_actions)
    used = set(re.findall(r"linker_args\+=\(\s*\"?(--[a-z-]+)", script))
    assert used and used <= run_flags, used - run_flags


# -- ports and volumes ------------------------------------------------------------------------


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_spark_master_port_and_url_agree(services):
    master = services["spark-master"]["command"]
    url = f"spark://spark-master:{flag(master, '--port')}"
    assert services["spark-worker"]["command"][-1] == url
    assert services["submit"]["environment"]["SPARK_MASTER"] == url
    assert f"${{SPARK_MASTER:-{url}}}" in SUBMIT.read_text(encoding="utf-8")
    published = [p.rsplit(":", 1)[1] for p in services["spark-master"]["ports"]]
    assert flag(master, "--webui-port") in published


def test_spotlight_replicas_run_the_documented_command_on_port_80(services):
    spotlight = services["spotlight"]
    assert spotlight["command"] == ["spotlight.sh", "en"]
    assert [str(p) for p in spotlight["expose"]] == ["80"]
    assert any(v.split(":")[1] == SPOTLIGHT_MODELS for v in spotlight["volumes"])
    assert re.search(r"spotlight\) service=spotlight; port=80;", SUBMIT.read_text("utf-8"))


def test_serve_replicas_listen_where_submit_looks(services):
    command = services["serve"]["command"]
    assert command[0] == "serve" and flag(command, "--host") == "0.0.0.0"
    assert flag(command, "--model").startswith("/models/")
    assert [str(p) for p in services["serve"]["expose"]] == [flag(command, "--port")]
    port = re.search(r"serve\) service=serve; port=(\d+);", SUBMIT.read_text("utf-8"))
    assert port and port.group(1) == flag(command, "--port")


def test_volumes_used_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert used and used <= declared, used - declared
    mounts = {name: {v.split(":")[1] for v in s.get("volumes", [])}
              for name, s in services.items()}
    for name in ("spark-worker", "submit"):  # executors and the driver share OUT under /data
        assert "/data" in mounts[name], name


def test_default_load_per_spotlight_replica_is_what_one_instance_serves(services):
    """Every link task's client keeps up to MAX_IN_FLIGHT requests at each replica; Spotlight
    serves 5 at a time, so the defaults should put 5 to 10 requests on each replica."""
    worker = services["spark-worker"]
    tasks = int(worker["deploy"]["replicas"]) * int(flag(worker["command"], "--cores"))
    per_replica = tasks * int(services["submit"]["environment"]["MAX_IN_FLIGHT"])
    assert 5 <= per_replica <= 10, per_replica
    assert services["submit"]["environment"]["EXECUTOR_CORES"] == flag(worker["command"],
                                                                      "--cores")


def test_every_longtail_container_gets_the_object_store_settings(services):
    """s3:// inputs and outputs need the same endpoint and credentials in the driver and in
    every executor: the workers and the submit container take them from the shell."""
    wanted = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
    for name in ("spark-master", "spark-worker", "submit", "serve"):
        environment = services[name].get("environment") or {}
        assert wanted <= set(environment), name
        for key in wanted - {"AWS_REGION"}:  # from the shell, nothing written in the file
            assert environment[key] == os.environ.get(key, ""), (name, key)
    store = services["object-store"]
    assert store["profiles"] == ["object-store"] and store["expose"] == ["9000"]
