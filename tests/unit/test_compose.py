"""docker-compose.yaml and Dockerfile cannot run here (no Docker engine): check their shape."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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


# --- Compose v1, the deploy log, fresh emulators, the no-Docker profile, the build context -------


def test_the_file_has_only_keys_compose_v1_accepts(compose):
    """Debian's docker-compose 1.29 rejects a top-level `name:`; v2 accepts both forms."""
    assert set(compose) <= {"services", "networks", "volumes"}


def test_the_deploy_log_ends_with_the_deployed_names_and_the_next_commands(compose):
    command = _command(compose["services"]["deploy"])
    assert command.rstrip().endswith(
        "deployment.operate summary --endpoint http://localstack:4566 "
        "--public-endpoint http://127.0.0.1:4566"
    )


def test_a_fresh_emulator_never_meets_stale_terraform_state(emulator_url, tmp_path):
    """LocalStack restarted (the state volume kept) or a new `make up`: the state is set aside."""
    from deployment.clients import client
    from deployment.deploy import drop_stale_state

    def state(bucket: str) -> None:
        resource = {"mode": "managed", "type": "aws_s3_bucket", "name": "this"}
        resource["instances"] = [{"attributes": {"id": bucket}}]
        (tmp_path / "terraform.tfstate").write_text(json.dumps({"resources": [resource]}))

    state("gone-bucket")
    assert drop_stale_state(emulator_url, tmp_path) is True
    assert not (tmp_path / "terraform.tfstate").exists()
    assert len(list(tmp_path.glob("terraform.tfstate.stale-*"))) == 1

    client("s3", emulator_url).create_bucket(Bucket="still-there")
    state("still-there")
    assert drop_stale_state(emulator_url, tmp_path) is False
    assert (tmp_path / "terraform.tfstate").exists()
    assert drop_stale_state("", tmp_path) is False  # AWS: never guessed at


def test_the_local_profile_runs_make_ups_server_deploys_and_seeds_without_docker(compose):
    service = compose["services"]["local-aws"]
    assert service["profiles"] == ["local"]
    assert service["build"] == "."
    assert service["ports"] == ["127.0.0.1:4566:4566"]
    assert not any("docker.sock" in v for v in service.get("volumes", []))
    command = _command(service)
    steps = [
        "local_aws.live serve --host 0.0.0.0 --port 4566 &",
        "make deploy-local",
        "deployment.seed --endpoint http://127.0.0.1:4566",
        "deployment.operate summary --endpoint http://127.0.0.1:4566",
    ]
    positions = [command.index(step) for step in steps]
    assert positions == sorted(positions)
    assert command.rstrip().endswith("wait $$server")
    assert "trap 'kill -TERM $$server" in command  # a stop reaches the server, not just sh
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^deploy-local:", makefile, re.M)


def _ignored() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_leaves_out_the_venv_builds_state_and_caches():
    ignored = _ignored()
    for heavy in (".git", ".venv", "build", "deployment/.state", "**/terraform.tfstate*"):
        assert heavy in ignored


def test_the_build_context_keeps_everything_the_dockerfile_copies():
    copied = re.findall(r"^COPY (.*)$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = {src.rstrip("/") for line in copied for src in line.split()[:-1]}
    assert sources and not sources & set(_ignored())


@pytest.mark.parametrize("tool", [["docker-compose"], ["docker", "compose"]])
def test_compose_accepts_the_file_where_installed(tool):
    if not shutil.which(tool[0]) or (
        len(tool) > 1 and subprocess.run([*tool, "version"], capture_output=True).returncode
    ):
        pytest.skip(f"{' '.join(tool)} is not installed here")
    for profile in ([], ["--profile", "local"]):
        done = subprocess.run(
            [*tool, *profile, "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
