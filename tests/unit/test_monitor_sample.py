"""The monitor's sample of a large batch: its share, and the same rows whatever file or
subset the keys come from."""

import numpy as np
import pandas as pd

from mlcycle.monitor_sample import in_sample, sample_share


def test_a_batch_within_the_limit_is_read_whole():
    assert sample_share(1000, 1000) is None and sample_share(999, 1000) is None
    assert sample_share(4000, 1000) == 0.25
    assert in_sample(pd.Series(["a", "b"]), None).all()


def test_the_sample_holds_the_share_asked_and_depends_on_the_key_alone():
    keys = pd.Series([f"H{i:08d}" for i in range(100_000)])
    chosen = in_sample(keys, 0.1)
    assert 9_500 < chosen.sum() < 10_500
    # another file holding some of the keys, in another order, samples the same ones
    subset = keys.sample(frac=0.3, random_state=1)
    assert np.array_equal(in_sample(subset.reset_index(drop=True), 0.1), chosen[subset.index])
