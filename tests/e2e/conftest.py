"""The real stack: packages built, Terraform applied to a fresh moto_server, the executor on top."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deployment import deploy
from deployment.clients import client as make_client
from layers.build import build
from local_aws.emulator import running_emulator

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 2, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory):
    """(outputs, endpoint, packages dir) of the real build applied with layer packaging."""
    packages = ROOT / "build" / "packages"
    build(packages)
    tmp = tmp_path_factory.mktemp("live")
    with running_emulator(log_path=tmp / "moto_server.log") as url:
        outputs = deploy.apply(url, "layer", tmp / "state", packages_dir=packages, quiet=True)
        yield outputs, url, packages


@pytest.fixture(scope="module")
def client(live_stack):
    _, url, _ = live_stack
    return lambda service: make_client(service, url)


def retrain_delay() -> dict:
    """A retrain takes hours in production.

    Modelling that on the virtual clock lets a batch arrive meanwhile.
    """
    return {"mlcycle-train": timedelta(hours=2)}
