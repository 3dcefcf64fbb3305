"""docker-compose.yaml and Dockerfile cannot run here (no Docker engine): check their shape."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from deployment.deploy import STATE_ROOT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _provider_endpoints() -> set[str]:
    """The services in providers.tf's `endpoints` block (each set to the emulator URL)."""
    text = (ROOT / "deployment" / "terraform" / "providers.tf").read_text()
    names = set(re.findall(r"^\s*(\w+)\s*=\s*endpoints\.value\s*$", text, re.M))
    assert {"s3", "lambda", "kms"} <= names, names
    return names


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_localstack_is_pinned_to_the_last_tag_without_an_auth_token(compose):
    assert compose["services"]["localstack"]["image"] == "localstack/localstack:4.14.0"


def test_localstack_can_start_lambda_containers(compose):
    volumes = compose["services"]["localstack"]["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in volumes
    env = compose["services"]["localstack"]["environment"]
    network = env["LAMBDA_DOCKER_NETWORK"]
    assert compose["networks"][network]["name"] == network
    assert network in compose["services"]["localstack"]["networks"]
    assert network in compose["services"]["deploy"]["networks"]
    services = env["SERVICES"].split(",")
    assert "kms" in services  # the model signing key and the topics' key (terraform/keys.tf)
    # Every service the provider points at the emulator must run in LocalStack.
    assert _provider_endpoints() <= set(services)


def test_localstack_is_health_checked_on_its_health_endpoint(compose):
    check = compose["services"]["localstack"]["healthcheck"]
    assert any("/_localstack/health" in part for part in check["test"])
    assert check["retries"] >= 10


def test_deploy_waits_for_a_healthy_localstack(compose):
    deploy = compose["services"]["deploy"]
    assert deploy["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert deploy["build"] in (".", {"context": "."})


def test_deploy_runs_the_make_target_with_bundled_packages_then_seeds(compose):
    command = _command(compose["services"]["deploy"])
    assert re.search(r"make deploy\b.*AWS_ENDPOINT_URL=http://localstack:4566", command)
    assert "PACKAGING=bundled" in command
    assert "deployment.seed --endpoint http://localstack:4566" in command
    assert command.index("make deploy") < command.index("deployment.seed")


def test_terraform_state_survives_in_a_volume_where_the_deploy_cli_keeps_it(compose):
    volumes = compose["services"]["deploy"]["volumes"]
    assert f"tfstate:/app/{STATE_ROOT.relative_to(ROOT).as_posix()}" in volumes


def test_deploy_uses_the_fixed_test_credentials(compose):
    env = compose["services"]["deploy"]["environment"]
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")


def test_the_make_targets_the_compose_file_uses_exist():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^deploy:", makefile, re.M)
    assert re.search(r"^setup:", makefile, re.M)


def _copied_before_setup(dockerfile: str) -> list[str]:
    """Sources of the COPY lines above `make setup` (`COPY <src>... <dest>`)."""
    setup = re.search(r"^(RUN|\s+&&)\s+make setup\b", dockerfile, re.M)
    assert setup, "the Dockerfile runs no `make setup`"
    head = dockerfile[: setup.start()]
    lines = re.findall(r"^COPY (.*)$", head, re.M)
    return [src.rstrip("/") for line in lines for src in line.split()[:-1]]


def test_dockerfile_brings_python_311_terraform_and_the_project():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert "releases.hashicorp.com/terraform" in text
    assert "make setup" in text
    copied = _copied_before_setup(text)
    for needed in ("Makefile", "pyproject.toml", "requirements", "model", "deployment"):
        assert needed in copied
    assert ".venv" not in re.findall(r"^COPY (.*)$", text, re.M)


def test_dockerfile_copies_every_installed_package_before_make_setup():
    """`make setup` ends with `pip install -e .`, which fails on a package folder it cannot find."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {name.split(".")[0] for name in setuptools["packages"]}
    folders = {setuptools.get("package-dir", {}).get(root, root).split("/")[0] for root in roots}
    copied = _copied_before_setup((ROOT / "Dockerfile").read_text())
    assert sorted(folders - set(copied)) == []
