"""Distributed operation: the image and manifests, then a local head + 2 worker nodes
(cluster/local.sh).

Every cluster step runs in a subprocess with a timeout, and the cluster is stopped whatever
happens. Tests skip, with the reason, where Ray cannot start a multi-node cluster or
lacks the dashboard (``ray[default]``) that job submission and the state API need.
The tests run in file order and share one cluster; the node-loss test runs last.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SH = ROOT / "cluster" / "local.sh"
BIN = Path(sys.executable).parent
IP = "127.0.0.2"
PORT = int(os.environ.get("TEST_CLUSTER_PORT", "6490"))
ITERATION_STEPS = 240  # GridNavi H=60 x 2 env runners x 2 envs each
MANIFESTS = sorted((ROOT / "cluster").rglob("*.yaml"))


def _pins():
    """``{package: version}`` of requirements.txt, and the project's Python (X.Y)."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.split("[")[0].strip()] = version.strip()
    pyproject = (ROOT / "pyproject.toml").read_text()
    python = re.search(r'requires-python = ">=(\d+\.\d+)"', pyproject).group(1)
    project_version = re.search(r'^version = "(.+)"', pyproject, re.M).group(1)
    return pins, python, project_version


def _values(node, key):
    """Every value of ``key`` anywhere in a parsed YAML document."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from _values(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, key)


def test_dockerfile_builds_on_the_pinned_ray_and_python_as_a_non_root_user():
    pins, python, _ = _pins()
    dockerfile = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert base == f"rayproject/ray:{pins['ray']}-py{python.replace('.', '')}-cpu"
    assert 'pip install --extra-index-url "${TORCH_INDEX_URL}" -r requirements.txt' in dockerfile
    # Every other install is of the project itself, without dependencies.
    installs = re.findall(r"pip install ([^\n]*)", dockerfile)
    assert installs[1:] == ["--no-deps . \\"], installs
    assert re.findall(r"^USER (\S+)", dockerfile, re.M)[-1] == "ray"
    # .dockerignore leaves out everything but what the image copies.
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    copied = [
        s for line in re.findall(r"^COPY \S+ (.+) \S+$", dockerfile, re.M) for s in line.split()
    ]
    assert "**" in ignore and all(
        f"!{source.rstrip('/')}/" in ignore or f"!{source}" in ignore for source in copied
    )


@pytest.mark.parametrize("path", MANIFESTS, ids=[str(p.relative_to(ROOT)) for p in MANIFESTS])
def test_manifests_parse_and_agree_with_the_pins(path):
    pins, python, project_version = _pins()
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents
    images = [i for d in documents for i in _values(d, "image")]
    assert images, f"{path} names no image"
    for image in images:
        assert (
            image.rsplit(":", 1)[1]
            == f"{project_version}-ray{pins['ray']}-py{python.replace('.', '')}"
        )
    for ray_version in (v for d in documents for v in _values(d, "rayVersion")):
        assert ray_version == pins["ray"]
    for entrypoint in (e for d in documents for e in _values(d, "entrypoint")):
        (config,) = re.findall(r"rllib-dynamite tune (\S+)", entrypoint)
        assert (ROOT / config).is_file() and "--address auto" in entrypoint


def test_cluster_launcher_configs_have_a_head_and_autoscaling_cpu_workers():
    for name in ("aws.yaml", "gcp.yaml"):
        config = yaml.safe_load((ROOT / "cluster" / name).read_text())
        types = config["available_node_types"]
        assert types[config["head_node_type"]]["resources"]["CPU"] == 0
        workers = [t for n, t in types.items() if n != config["head_node_type"]]
        assert len(workers) >= 2 and all(t["max_workers"] > t["min_workers"] for t in workers)
        assert all(t["resources"]["worker_node"] == 1 for t in workers)


@dataclass
class Cluster:
    address: str
    job_address: str
    env: dict

    def actors(self, class_name, job_id=None, state=None):
        from ray.util.state import list_actors

        filters = [("class_name", "=", class_name)]
        filters += [("job_id", "=", job_id)] if job_id else []
        filters += [("state", "=", state)] if state else []
        return list_actors(address=self.job_address, filters=filters, detail=True, limit=1000)

    def worker_node_ids(self):
        from ray.util.state import list_nodes

        nodes = list_nodes(address=self.job_address, detail=True)
        return {n.node_id for n in nodes if "worker_node" in n.resources_total}


def _run(args, env, timeout, **kwargs):
    return subprocess.run(
        args, env=env, timeout=timeout, capture_output=True, text=True, cwd=ROOT, **kwargs
    )


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("aiohttp", reason="`ray job submit` needs ray[default] (the dashboard)")
    env = {
        **os.environ,
        "LOCAL_RAY_IP": IP,
        "LOCAL_RAY_PORT": str(PORT),
        "LOCAL_RAY_HEAD_CPUS": "0",
        "LOCAL_RAY_WORKER_CPUS": "2",
        "RAY": str(BIN / "ray"),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    try:
        started = _run(["bash", str(LOCAL_SH), "start", "2"], env, timeout=240)
        if started.returncode != 0:
            pytest.skip(f"Ray cannot start a local multi-node cluster: {started.stderr[-500:]}")
        yield Cluster(f"{IP}:{PORT}", f"http://{IP}:{PORT + 1}", env)
    except subprocess.TimeoutExpired:
        pytest.skip("Ray did not start a local multi-node cluster within 240 s")
    finally:
        _run(["bash", str(LOCAL_SH), "stop"], env, timeout=120)


def _experiment(tmp_path, name, iterations):
    """A GridNavi sweep of one trial: ``iterations`` iterations of 240 env steps."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            dict(
                name=name,
                env="rllib_dynamite/GridNavi-v0",
                preset="dynamite",
                stop_timesteps=iterations * ITERATION_STEPS,
                checkpoint_frequency=1,
                evaluation_interval=0,
                settings=dict(num_env_runners=2, num_envs_per_env_runner=2),
            )
        )
    )
    return path


def _tune_command(cluster, experiment, output, *extra):
    return [str(BIN / "rllib-dynamite"), "tune", str(experiment), "--output", str(output),
            "--address", cluster.address, *extra]  # fmt: skip


def _iterations(stdout):
    return [int(line.split(" iter ")[1].split("|")[0]) for line in stdout.splitlines()
            if " iter " in line]  # fmt: skip


def _wait_for_line(log_path, text, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log_path.read_text():
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before {text!r}:\n{log_path.read_text()[-2000:]}")
        time.sleep(1)
    process.kill()
    pytest.fail(f"no {text!r} within {timeout} s:\n{log_path.read_text()[-2000:]}")


def test_job_submit_runs_env_runners_on_worker_nodes(cluster, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    experiment = _experiment(tmp_path, "job", iterations=2)
    job_id = f"test-cluster-{uuid.uuid4().hex[:8]}"
    entrypoint = _tune_command(cluster, experiment, tmp_path / "results")
    entrypoint[entrypoint.index(cluster.address)] = "auto"  # the job's own cluster
    submitted = _run(
        [str(BIN / "ray"), "job", "submit", "--address", cluster.job_address,
         "--submission-id", job_id, "--no-wait", "--", *entrypoint],
        cluster.env, timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    client = JobSubmissionClient(cluster.job_address)
    deadline = time.monotonic() + 420
    while not client.get_job_status(job_id).is_terminal():
        if time.monotonic() > deadline:
            client.stop_job(job_id)
            pytest.fail(f"job not done in 420 s:\n{client.get_job_logs(job_id)[-2000:]}")
        time.sleep(2)
    logs = client.get_job_logs(job_id)
    assert client.get_job_status(job_id) == JobStatus.SUCCEEDED, logs[-2000:]
    assert "1 trial(s), 0 failed" in logs and _iterations(logs)[-1] == 2

    driver_job_id = client.get_job_info(job_id).driver_info.id
    env_runners = cluster.actors("FreshEpisodesEnvRunner", job_id=driver_job_id)
    assert len(env_runners) == 2
    print("env runner nodes:", sorted(a.node_id[:8] for a in env_runners))
    assert {actor.node_id for actor in env_runners} <= cluster.worker_node_ids()


def test_resume_after_the_driver_is_killed_continues_the_iteration_count(cluster, tmp_path):
    experiment = _experiment(tmp_path, "resume", iterations=40)
    output = tmp_path / "results"
    log_path = tmp_path / "first.log"
    # Tune records checkpoints in its experiment state at most every 10 s by default;
    # every second here, so that the kill comes after a recorded checkpoint.
    env = {**cluster.env, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    with log_path.open("w") as log:
        driver = subprocess.Popen(
            _tune_command(cluster, experiment, output), env=env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_line(log_path, "iter    5", driver, timeout=300)
        time.sleep(3)  # a few more checkpoints, recorded
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    assert _iterations(log_path.read_text())[-1] < 40, "the run ended before the kill"

    # A kill during a checkpoint write leaves a partial newest directory behind.
    (trial_dir,) = [p for p in (output / "resume").iterdir() if p.is_dir()]
    partial = trial_dir / "checkpoint_000099"
    partial.mkdir()
    (partial / "rllib_checkpoint.json").write_text("{")

    resumed = _run(_tune_command(cluster, experiment, output, "--resume"), cluster.env, 420)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    iterations = _iterations(resumed.stdout)
    print(f"killed after iteration {_iterations(log_path.read_text())[-1]} was printed; "
          f"resumed at iteration {iterations[0]}, ended at {iterations[-1]}")  # fmt: skip
    assert iterations[0] > 5, iterations  # continued from a checkpoint, not from scratch
    assert iterations[-1] == 40 and "1 trial(s), 0 failed" in resumed.stdout
    results = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
    resumed_first = next(r for r in results if r["training_iteration"] == iterations[0])
    assert resumed_first["num_env_steps_sampled_lifetime"] == iterations[0] * ITERATION_STEPS


def test_tune_ships_a_user_env_to_the_worker_nodes_with_runtime_env(cluster, tmp_path):
    """A user's env module named in the file's ``code:`` block, in a directory no Ray
    worker has on its path: ``runtime_env`` brings it to the worker nodes, whose env
    runners sample it, and its session labels reach the learner."""
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "setpoint_env.py").write_text(
        (ROOT / "tests" / "user_project" / "setpoint_env.py").read_text()
    )
    traces = tmp_path / "traces"
    traces.mkdir()
    experiment = project / "setpoint.yaml"
    experiment.write_text(
        yaml.safe_dump(
            dict(
                name="setpoint",
                env="setpoint_env:make_setpoint",
                preset="dynamite",
                stop_timesteps=2 * 80,  # 2 iterations: 2 env runners x 2 envs x H = 20
                checkpoint_frequency=1,
                keep_checkpoints=1,
                evaluation_interval=0,
                settings=dict(
                    num_env_runners=2,
                    num_envs_per_env_runner=2,
                    env_config=dict(trace_dir=str(traces)),
                ),
                code=dict(py_modules=["setpoint_env.py"]),
            )
        )
    )
    output = tmp_path / "results"
    run = _run(_tune_command(cluster, experiment, output), cluster.env, timeout=420)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "1 trial(s), 0 failed" in run.stdout

    (trial_dir,) = [p for p in (output / "setpoint").iterdir() if p.is_dir()]
    results = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
    sampled_on = set(results[-1]["env_runners"]["node_ids"].split())
    worker_nodes = cluster.worker_node_ids()
    assert sampled_on and sampled_on <= worker_nodes
    assert results[-1]["learners"]["default_policy"]["sessions_per_episode"] > 1.0
    # Each env that ran a whole episode says where, and from which copy of the module.
    episodes = [(path.name.split("-")[0], *path.read_text().split()) for path in traces.iterdir()]
    stepped = [(node, module) for node, steps, module in episodes if int(steps) >= 20]
    print("env runner nodes:", sorted(n[:8] for n in sampled_on), "modules:", stepped[0][1])
    assert {node for node, _ in stepped} == sampled_on
    assert all("runtime_resources" in module for _, module in stepped)
    assert [p.name for p in trial_dir.glob("checkpoint_*")] == ["checkpoint_000001"]


def _descendants(pid):
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        found.append(stack.pop())
        stack.extend(children.get(found[-1], []))
    return found


def _kill_node(node_id):
    """SIGKILL a node's raylet and every process under it (its workers and agents)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"--node_id={node_id}" in cmdline.read_text() and "raylet" in cmdline.read_text():
                raylet = int(cmdline.parent.name)
                break
        except OSError:
            continue
    else:
        pytest.fail(f"no raylet of node {node_id}")
    for pid in _descendants(raylet):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_worker_node_killed_mid_run_does_not_stop_the_run(cluster, tmp_path):
    """The killed node's env runners restart on a replacement node (as an autoscaler
    would add one); the trial goes on meanwhile with the others."""
    experiment = _experiment(tmp_path, "node_loss", iterations=20)
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        driver = subprocess.Popen(
            _tune_command(cluster, experiment, tmp_path / "results"), env=cluster.env,
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_line(log_path, "iter    2", driver, timeout=300)
        trainable_nodes = {a.node_id for a in cluster.actors("DynamiteTrainable", state="ALIVE")}
        env_runner_nodes = {
            a.node_id for a in cluster.actors("FreshEpisodesEnvRunner", state="ALIVE")
        }
        victims = env_runner_nodes - trainable_nodes
        assert victims, "every env runner shares the trainable's node"
        victim = victims.pop()
        _kill_node(victim)
        killed_after = _iterations(log_path.read_text())[-1]
        added = _run(["bash", str(LOCAL_SH), "add"], cluster.env, timeout=120)
        assert added.returncode == 0, added.stderr
        driver.wait(timeout=480)
    finally:
        if driver.poll() is None:
            driver.send_signal(signal.SIGKILL)
    stdout = log_path.read_text()
    assert driver.returncode == 0, stdout[-3000:]
    print(f"killed node {victim[:8]} after iteration {killed_after}; ran to {_iterations(stdout)}")
    assert killed_after < 20 and _iterations(stdout)[-1] == 20
    assert "1 trial(s), 0 failed" in stdout
