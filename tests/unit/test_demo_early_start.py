"""The demo's start of the functions' sandboxes while Terraform still applies."""

import threading

import pytest

from demo import early_start
from demo.early_start import EarlyStart


class Lambda:
    """Deploys a function at each listing, up to `deployed`; `fail`: the listing fails."""

    def __init__(self, deployed: int, fail: bool = False):
        self.deployed, self.fail, self.listed = deployed, fail, 0

    def list_functions(self):
        if self.fail:
            raise RuntimeError("emulator gone")
        self.listed += 1
        return {
            "Functions": [{"FunctionName": f"f{i}"} for i in range(min(self.listed, self.deployed))]
        }


class Sandboxes:
    def __init__(self):
        self.started: list[str] = []

    def prestart(self, config):
        self.started.append(config["FunctionName"])


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(early_start, "POLL_S", 0.001)


def _run(lam, functions=3):
    sandboxes, then = Sandboxes(), []
    early = EarlyStart(sandboxes, lam, functions, lambda: then.append(True))
    return early, sandboxes, then


def test_once_every_function_is_deployed_their_sandboxes_start_then_the_rest():
    early, sandboxes, then = _run(Lambda(deployed=3))
    early.start()
    early.join(5)
    assert sandboxes.started == ["f0", "f1", "f2"] and then == [True]


def test_an_apply_over_before_the_functions_exist_starts_nothing():
    early, sandboxes, then = _run(Lambda(deployed=2))
    early.start()
    while early.lam.listed < 5:
        threading.Event().wait(0.001)
    early.finish()
    assert sandboxes.started == [] and then == [] and not early.is_alive()


def test_a_failed_look_costs_the_early_start_only(caplog):
    early, sandboxes, then = _run(Lambda(deployed=3, fail=True))
    early.start()
    early.join(5)  # it ends at the failure
    assert sandboxes.started == [] and then == []
    assert "sandboxes not started early: emulator gone" in caplog.text
