"""The docker/ files, checked without a Docker engine (none runs here): structure, health checks, scaling,
and agreement with the settings they configure."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from live_services import REPO

DOCKER = REPO / "docker"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def test_compose_has_every_part_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"web", "worker", "postgres", "redis", "migrate", "proxy"}
    for name in ("worker", "postgres", "redis", "proxy"):
        assert services[name]["healthcheck"]["test"], name
    assert {"media", "pgdata", "redisdata", "models"} <= set(compose["volumes"])


def test_workers_scale(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    # --scale worker=N needs no fixed container name and no published port.
    assert "container_name" not in worker and "ports" not in worker
    assert "--concurrency" in worker["command"] and "ingest,search" in worker["command"]
    assert worker["environment"]["DATABASE_URL"].startswith("postgres://")
    assert "media:/data" in worker["volumes"]


def test_app_services_wait_for_migrations_and_healthy_services(compose: dict[str, Any]) -> None:
    for name in ("web", "worker"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    migrate_deps = compose["services"]["migrate"]["depends_on"]
    healthy = {"condition": "service_healthy"}
    assert migrate_deps == {"postgres": healthy, "redis": healthy}


def test_dockerfile_is_multi_stage_slim_and_unprivileged() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert len(bases) >= 3
    assert all(":" in base and not base.endswith(":latest") for base in bases)
    assert all("slim" in base for base in bases)
    assert re.search(r"^USER sightline$", text, flags=re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "collectstatic" in text
    assert "--no-install-recommends" in text and "rm -rf /var/lib/apt/lists/*" in text


def test_nginx_serves_media_only_through_x_accel_redirect() -> None:
    from django.conf import settings

    conf = (DOCKER / "nginx.conf").read_text()
    prefix = re.escape(settings.SIGHTLINE_X_ACCEL_PREFIX)
    block = re.search(rf"location {prefix} \{{(.*?)\}}", conf, re.S)
    assert block is not None and "internal;" in block.group(1)
    assert "proxy_set_header Upgrade" in conf  # websockets pass through


def test_build_context_excludes_local_state() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("**")] == "**"  # everything out, then sources back in
    assert not any(line.startswith(("!.venv", "!var", "!../")) for line in ignore)


@pytest.mark.django_db
def test_health_endpoint_answers_before_host_checks(client: Any) -> None:
    response = client.get("/healthz", HTTP_HOST="not-an-allowed-host.example")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_example_env_lists_every_required_variable(compose: dict[str, Any]) -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (DOCKER / "compose.yaml").read_text()))
    lines = (DOCKER / "example.env").read_text().splitlines()
    example = {line.split("=")[0] for line in lines if "=" in line}
    assert required and required <= example


def test_docs_describe_growth_past_one_machine() -> None:
    text = (REPO / "docs" / "deployment.md").read_text()
    for words in ("--scale worker", "X-Accel-Redirect", "single writer", "django-storages", "S3"):
        assert words in text, words
