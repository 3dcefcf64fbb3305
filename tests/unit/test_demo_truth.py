"""The demo's ground truth under concept drift: harm is falling short of a model of the world
in force, not of the old world's accuracy, which a changed behaviour may never allow again."""

import numpy as np
import pandas as pd

from demo.scenario import Incident, Scenario
from demo.truth import Oracle
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
