"""Two builds of one dependency recipe at once: one builds, the other takes its entry; each
stages alone, and of two that finish the first wins."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

from layers import deps
from layers.deps import _publish, _staging


def test_each_build_stages_in_its_own_directory(tmp_path):
    staging = _staging(tmp_path, "deps", "abc")
    assert staging.name == f".staging-deps-abc-{os.getpid()}"
    assert _staging(tmp_path, "runtime", "abc") != staging


def test_the_second_build_to_finish_leaves_the_first_ones_entry(tmp_path):
    entry = tmp_path / "deps-abc"
    first, second = tmp_path / ".staging-a", tmp_path / ".staging-b"
    for staging, text in ((first, "first"), (second, "second")):
        staging.mkdir()
        (staging / "report.json").write_text(text)

    _publish(first, entry)
    _publish(second, entry)

    assert (entry / "report.json").read_text() == "first"
    assert not first.exists() and not second.exists()


def test_builds_started_together_pay_for_one_cold_build(tmp_path, monkeypatch):
    """The second waits for the first's entry (a test worker beside another, or a demo)."""
    requirements = tmp_path / "runtime.txt"
    requirements.write_text("pandas==2.2.3\n")
    built = []

    def build(requirements, cache_dir, key, entry):
        built.append(key)
        time.sleep(0.3)  # long enough for the other thread to arrive while this one builds
        entry.mkdir()
        (entry / "report.json").write_text("{}")

    monkeypatch.setattr(deps, "_build_dependencies", build)
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda _: deps.prepare_dependencies(requirements, tmp_path), [1, 2]))
    assert len(built) == 1
    assert found[0] == found[1]
