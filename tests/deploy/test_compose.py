"""deploy/compose.yaml, read with PyYAML and interpolated as compose would: PostgreSQL with a
health check, an init step before web and sync, the radicale profile, and no real secret in it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from adapters.config import EXAMPLE_SECRET_MARK, METRICS_DIRECTORY, SETTINGS, check
from tests.deploy.support import (
    DEPLOY,
    MissingVariable,
    compose,
    compose_text,
    example_variables,
    interpolate,
    interpolated_names,
    leanplan_environment,
    stages,
)
from web.gunicorn_settings import GRACEFUL_TIMEOUT_SECONDS

LEANPLAN_SERVICES = ("init", "web", "sync")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, f"write durations in seconds: {duration!r}"
    return int(match[1])


def test_the_services(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "init", "web", "sync", "radicale"}


def test_postgres_is_the_official_image_with_a_volume_and_a_tcp_health_check(
    services: dict[str, Any],
) -> None:
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:\d+", postgres["image"]), "official image, pinned major"
    volume, _, target = postgres["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data"
    assert volume in compose()["volumes"], "a named volume, so data outlives the container"
    health = postgres["healthcheck"]
    assert health["test"][0] == "CMD-SHELL" and "pg_isready" in health["test"][1]
    assert "-h 127.0.0.1" in health["test"][1], "TCP: the init-time server only has a socket"
    assert {"interval", "timeout", "retries", "start_period"} <= health.keys()


def test_web_sync_and_init_run_the_one_image_built_from_deploy_dockerfile(
    services: dict[str, Any],
) -> None:
    images = {services[name]["image"] for name in LEANPLAN_SERVICES}
    assert len(images) == 1
    for name in LEANPLAN_SERVICES:
        build = services[name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert (context / build["dockerfile"]) == DEPLOY / "Dockerfile"
        assert services[name]["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in services[name]["security_opt"]


def test_init_checks_the_settings_and_creates_the_store_once_postgres_is_healthy(
    services: dict[str, Any],
) -> None:
    init = services["init"]
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    script = init["command"][-1]
    assert init["command"][:2] == ["sh", "-c"]
    assert script.index("leanplan check-config --connect") < script.index("leanplan init")
    assert "&&" in script, "init does not run when the check fails"
    assert init["restart"] == "no"


@pytest.mark.parametrize("name", ["web", "sync"])
def test_web_and_sync_wait_for_a_healthy_postgres_and_a_finished_init(
    services: dict[str, Any], name: str
) -> None:
    assert services[name]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "init": {"condition": "service_completed_successfully"},
    }
    assert services[name]["restart"] == "unless-stopped"
    assert _seconds(services[name]["stop_grace_period"]) > GRACEFUL_TIMEOUT_SECONDS


def test_web_is_the_image_command_published_on_loopback_only(services: dict[str, Any]) -> None:
    web = services["web"]
    command = stages(DEPLOY / "Dockerfile")[-1].all("CMD")[0].value
    assert tuple(web["command"]) == command
    assert "healthcheck" not in web, "web keeps the image's /healthz check"
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port}: only a proxy on this host reaches it"


def test_sync_runs_the_worker_without_the_web_health_check(services: dict[str, Any]) -> None:
    sync = services["sync"]
    assert sync["command"] == ["leanplan", "sync"]
    assert sync["healthcheck"] == {"disable": True}, "it serves no /healthz"


def test_radicale_only_with_its_profile(services: dict[str, Any]) -> None:
    profiled = {name for name, service in services.items() if "profiles" in service}
    assert profiled == {"radicale"}
    radicale = services["radicale"]
    assert radicale["profiles"] == ["radicale"]
    assert (DEPLOY / radicale["build"]["context"] / "Dockerfile").is_file()
    volume = radicale["volumes"][0].partition(":")[0]
    assert volume in compose()["volumes"]


def test_leanplan_containers_get_every_setting(services: dict[str, Any]) -> None:
    """All but PROMETHEUS_MULTIPROC_DIR, which prometheus-client heeds even when empty."""
    expected = {setting.name for setting in SETTINGS} - {METRICS_DIRECTORY.name}
    for name in LEANPLAN_SERVICES:
        assert set(services[name]["environment"]) == expected


def test_no_secret_is_written_into_compose(services: dict[str, Any]) -> None:
    """Secrets come from deploy/.env through `${NAME:?…}`, which refuses to start without them."""
    required = {n for n, op in interpolated_names(compose_text()).items() if op == ":?"}
    assert {"POSTGRES_PASSWORD", "LEANPLAN_SECRET_KEY"} <= required
    for service in services.values():
        for name, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(name):
                # Its own variable, required or empty by default: never a value written here.
                pattern = rf"\$\{{{name}:(\?[^}}]+|-)\}}"
                assert re.fullmatch(pattern, value), f"{name}: {value}"
    url = services["web"]["environment"]["DATABASE_URL"]
    password = r"\$\{POSTGRES_PASSWORD:\?[^}]+\}"
    assert re.fullmatch(rf"postgresql://leanplan:{password}@postgres:5432/leanplan", url)


def test_compose_refuses_to_start_without_the_secrets(services: dict[str, Any]) -> None:
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD|LEANPLAN_SECRET_KEY"):
        interpolate(services["web"]["environment"], {})


def test_the_example_env_fails_check_config_until_its_secrets_are_replaced(
    services: dict[str, Any],
) -> None:
    variables = example_variables()
    assert EXAMPLE_SECRET_MARK in variables["POSTGRES_PASSWORD"]
    as_copied = leanplan_environment(services["web"], variables)
    problems = {f.setting.name for f in check(as_copied) if f.problem}
    assert problems == {"DATABASE_URL", "LEANPLAN_SECRET_KEY"}

    variables |= {
        "POSTGRES_PASSWORD": "3f9a0c1d7e5b2a4c6d8e0f1a3b5c7d9e",
        "LEANPLAN_SECRET_KEY": "q7VfR2mX9kLp4TzW8nBc1YhJ6sDg3EaU0oIi5ZxNlMr",
    }
    edited = leanplan_environment(services["web"], variables)
    assert [f.problem for f in check(edited) if f.problem] == []
    assert edited["DATABASE_URL"].startswith("postgresql://leanplan:3f9a0c1d")
    assert edited["WEB_CONCURRENCY"] == "4", "several workers by default"
