"""The demo's ground truth under concept drift: harm is falling short of a model of the world
in force, not of the old world's accuracy, which a changed behaviour may never allow again."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

from demo.scenario import Incident, Scenario
from demo.truth import Oracle, prepared
from mlcycle.config import load_config
from mlcycle.plugin import load_plugin
from tests.conftest import MODEL_DIR

SCENARIO = Scenario(days=4, rows_per_day=1500, incidents=(Incident("concept_drift", 3, 4, 2.0),))


class Models:
    """A model store of two fitted models: one of the old world, one of the new."""

    def __init__(self, oracle: Oracle, plugin):
        def fitted(batches):
            frames, statuses = zip(*(oracle._typed(b) for b in batches), strict=True)
            target = pd.Series(np.concatenate(statuses))
            return plugin.train(pd.concat(frames, ignore_index=True), target, oracle.cfg.params)

        old = [SCENARIO.clean_batch(d) for d in range(10, 16)]
        self.models = {"old": fitted(old), "new": oracle._world_model(SCENARIO.incidents[0])}

    def load(self, version):
        return self.models[version]


def test_concept_drift_harms_the_old_model_and_not_one_that_learnt_the_new_behaviour():
    cfg = load_config(MODEL_DIR / "model_config.yml")
    plugin = load_plugin(cfg, MODEL_DIR)
    oracle = Oracle(SCENARIO, cfg, None, plugin)
    oracle.registry = Models(oracle, plugin)

    old, new = oracle.truth(3, "old"), oracle.truth(3, "new")

    assert old.harmful and old.clean_accuracy == new.clean_accuracy == oracle.world_accuracy(3)
    assert old.accuracy < oracle.world_accuracy(3) - 0.02
    assert not new.harmful and "model of the changed behaviour" in new.why
    assert not oracle.truth(1, "old").harmful  # a clean day is no harm


def test_an_oracle_given_the_prepared_inputs_answers_alike_without_drawing_them_again():
    cfg = load_config(MODEL_DIR / "model_config.yml")
    plugin = load_plugin(cfg, MODEL_DIR)
    computed = Oracle(SCENARIO, cfg, None, plugin)
    computed.registry = Models(computed, plugin)
    adopted = Oracle(SCENARIO, cfg, None, plugin)
    adopted.registry = computed.registry
    # As the demo runs it: in a process of its own, whose answer arrives before this one has
    # loaded the plug-in's modules.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as worker:
        answer = worker.submit(prepared, SCENARIO, MODEL_DIR / "model_config.yml").result()
    adopted.adopt(answer)

    def drawn_again(batch):
        raise AssertionError("the prepared inputs were drawn again")

    adopted._typed = drawn_again
    for day in range(1, SCENARIO.days + 1):
        for version in ("old", "new"):
            assert adopted.truth(day, version) == computed.truth(day, version)
    assert adopted.clean_day_accuracy("new", [1, 2, 3, 4]) == computed.clean_day_accuracy(
        "new", [1, 2, 3, 4]
    )


def test_an_oracle_without_a_model_store_refuses_to_score_a_version():
    cfg = load_config(MODEL_DIR / "model_config.yml")
    oracle = Oracle(SCENARIO, cfg, None, load_plugin(cfg, MODEL_DIR))
    with pytest.raises(ValueError, match="v0001: this oracle has no model store"):
        oracle.truth(3, "v0001")
