"""The deploy CLI's own checks: an endpoint where nothing listens, the user's region."""

import time

import pytest

from deployment import deploy, variables
from deployment.terraform_cli import DeployError
from local_aws.emulator import free_port
from tests.fixtures.placeholders import write_placeholder_packages


def test_an_endpoint_where_nothing_listens_fails_fast_and_says_how_to_start_one():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(DeployError, match=r"nothing listens at .*`make up LOCAL_AWS_PORT=\d+`"):
        deploy.outputs(url)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "ap-southeast-2"}, "ap-southeast-2"),
        ({}, "us-east-1"),
    ],
)
def test_the_region_follows_the_users_aws_environment(env, expected, tmp_path, monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    packages = write_placeholder_packages(tmp_path / "packages")
    given = variables.tf_variables("http://127.0.0.1:4566", "layer", packages, None)
    assert given["region"] == expected
