"""Two builds of one dependency recipe at once: each stages alone, the first to finish wins."""

import os

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
