"""deploy/Dockerfile and .dockerignore, read with BuildKit's parser: a slim two-stage build whose
runtime stage has no compiler and runs unprivileged, and whose health check and command work."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.support import (
    DEPLOY,
    REPO,
    Stage,
    children,
    dockerignore,
    free_port,
    ignored,
    stages,
    wait_until_answering,
)

DOCKERFILE = DEPLOY / "Dockerfile"
RADICALE_DOCKERFILE = DEPLOY / "radicale" / "Dockerfile"
BASE_IMAGE = "python:3.11-slim"
WORKERS = 3
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cmake|rustc|cargo|\S+-dev)\b")


@pytest.fixture(scope="module")
def build() -> list[Stage]:
    return stages(DOCKERFILE)


@pytest.fixture(scope="module")
def runtime(build: list[Stage]) -> Stage:
    return build[-1]


def _instruction(stage: Stage, cmd: str) -> tuple[str, ...]:
    found = stage.all(cmd)
    assert len(found) == 1, f"expected one {cmd} in the {stage.name} stage, found {len(found)}"
    return tuple(found[0].value)


def test_two_named_stages_on_the_same_slim_python(build: list[Stage]) -> None:
    assert [stage.name for stage in build] == ["builder", "runtime"]
    # One base for both: the virtualenv's interpreter links to the builder's Python.
    assert {stage.image for stage in build} == {BASE_IMAGE}


def test_the_runtime_stage_takes_only_the_built_environment_from_the_builder(
    build: list[Stage], runtime: Stage
) -> None:
    copies = runtime.all("COPY")
    assert [c.flags for c in copies] == [("--from=builder",)], "the runtime copies no source"
    venv = copies[0].value[0]
    assert any(f"python -m venv {venv}" in run for run in build[0].runs())
    assert runtime.env()["PATH"].startswith(f"{venv}/bin:")


def test_no_compiler_and_no_package_manager_cache_in_the_runtime(runtime: Stage) -> None:
    for run in runtime.runs():
        assert not BUILD_TOOLS.search(run), run
        assert "pip install" not in run, "the runtime stage installs nothing with pip"
        if "apt-get install" in run:
            assert "--no-install-recommends" in run and "rm -rf /var/lib/apt/lists" in run


@pytest.mark.parametrize("path", [DOCKERFILE, RADICALE_DOCKERFILE], ids=lambda p: p.parent.name)
def test_every_pip_install_keeps_no_cache(path: Path) -> None:
    for stage in stages(path):
        for run in stage.runs():
            for step in re.split(r"&&|;", run):
                if re.search(r"\bpip\b.*\b(install|wheel)\b", step):
                    assert "--no-cache-dir" in step, f"{path.name}: {step.strip()}"


@pytest.mark.parametrize("path", [DOCKERFILE, RADICALE_DOCKERFILE], ids=lambda p: p.parent.name)
def test_the_final_user_is_an_unprivileged_one_the_image_creates(path: Path) -> None:
    final = stages(path)[-1]
    user = final.all("USER")[-1].value[0]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, f"USER {user}: numeric, so runAsNonRoot can check"
    assert gid == "" or (gid.isdigit() and int(gid) > 0)
    assert any(f"--uid {uid}" in run for run in final.runs()), "the user is created in the image"
    last = final.commands[-1]
    assert final.commands.index(final.all("USER")[-1]) > max(
        final.commands.index(run) for run in final.all("RUN")
    ), "USER comes after every RUN, so nothing after it runs as root"
    assert last.cmd == "CMD"


def test_the_command_is_leanplan_serve_on_every_interface_of_the_container(
    runtime: Stage,
) -> None:
    command = runtime.all("CMD")[0]
    assert command.json, "exec form, so gunicorn is PID 1 and gets SIGTERM"
    assert command.value == ("leanplan", "serve", "--host", "0.0.0.0")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["leanplan"] == "web.cli:main"
    assert _instruction(runtime, "EXPOSE") == ("8000",)


def test_the_health_check_asks_healthz_with_a_timeout(runtime: Stage) -> None:
    check = runtime.all("HEALTHCHECK")[0]
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in check.flags)
    assert {"interval", "timeout", "start-period", "retries"} <= flags.keys()
    assert check.json and check.value[0] == "CMD"
    assert "http://127.0.0.1:8000/healthz" in " ".join(check.value)


def test_every_package_the_wheel_holds_is_copied_into_the_builder(build: list[Stage]) -> None:
    found = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = {pattern.rstrip("*") for pattern in found["find"]["include"]}
    copied = {c.value[0].rstrip("/") for c in build[0].all("COPY")}
    assert packages <= copied, f"not copied: {packages - copied}"
    assert "pyproject.toml" in copied


def test_dockerignore_lets_in_what_the_build_copies_and_nothing_secret(
    build: list[Stage],
) -> None:
    rules = dockerignore(REPO / ".dockerignore")
    sources = [c.value[0].rstrip("/") for s in build for c in s.all("COPY") if not c.flags]
    for source in sources:
        path = REPO / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        assert files, source
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if "__pycache__" not in relative:
                assert not ignored(relative, rules), f"{relative} is left out of the context"
    for kept_out in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/leanplan.sqlite3",
        "deploy/.env",
        ".env",
        "tests/conftest.py",
        "leanplan.egg-info/PKG-INFO",
        "web/__pycache__/cli.cpython-311.pyc",
    ):
        assert ignored(kept_out, rules), f"{kept_out} would be sent to the Docker daemon"


@pytest.mark.slow
def test_the_health_check_and_command_work_against_a_real_server(
    runtime: Stage, tmp_path: Path
) -> None:
    """The image's CMD (bound to 127.0.0.1 here) serves with WEB_CONCURRENCY workers, its
    HEALTHCHECK passes on it and fails when nothing answers, and SIGTERM stops it cleanly."""
    port = free_port()
    argv = list(runtime.all("CMD")[0].value)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    env = os.environ | {
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'image.sqlite3'}",
        "LEANPLAN_SECRET_KEY": "a-test-key-long-enough-for-the-check-0123456789",
        "WEB_CONCURRENCY": str(WORKERS),
    }
    code = "import sys; from web.cli import main; sys.exit(main(sys.argv[1:]))"
    server = subprocess.Popen(
        [sys.executable, "-c", code, *argv[1:], "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    check = list(runtime.all("HEALTHCHECK")[0].value[1:])
    assert check[0] == "python"
    check[0] = sys.executable
    try:
        wait_until_answering(server, f"http://127.0.0.1:{port}/healthz")
        assert len(children(server.pid)) == WORKERS
        here = [arg.replace(":8000/", f":{port}/") for arg in check]
        assert subprocess.run(here, env=env, check=False, timeout=30).returncode == 0
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert server.returncode == 0, output
    assert "Traceback" not in output
    nobody = [arg.replace(":8000/", f":{free_port()}/") for arg in check]
    refused = subprocess.run(nobody, env=env, check=False, capture_output=True, timeout=30)
    assert refused.returncode != 0, shlex.join(nobody)
