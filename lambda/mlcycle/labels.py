"""A batch's ground truth as it stands: the complete labels, or the increments so far.

Labels arrive in two shapes (keys in storage.py). `labels/<batch_id>.csv` is complete.
`labels/<batch_id>/<YYYY-MM-DD>.csv` is an increment: the rows whose status became known
by that day and were in no earlier increment (a cancellation is known the day it happens,
a fulfilled stay only at check-out), so realised metrics can start before the complete
file exists. The complete file is the final word: once it exists, increments are not read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlcycle import storage
from mlcycle.config import ModelConfig
from mlcycle.errors import DataContractError
from mlcycle.monitor_sample import read_csv_object
from mlcycle.objectstore import ObjectStore


@dataclass(frozen=True)
class BatchLabels:
    """What is known of a batch's labels.

    values: the status per row, aligned by position with the keys asked for; NaN where
        it is not known (yet).
    complete: read from the complete file.
    as_of: the date of the newest increment read; None when complete.
    increments: how many increments were read; 0 when complete.
    keys: the label objects read.
    """

    values: pd.Series
    complete: bool
    as_of: str | None
    increments: int
    keys: list[str]


def _status_by_key(
    store: ObjectStore, bucket: str, key: str, cfg: ModelConfig, share: float | None
) -> pd.Series:
    """One labels file as status indexed by join key; a key repeated in the file: first wins.
    With a `share`, the rows of the monitor's sample only (monitor_sample.py)."""
    where = f"s3://{bucket}/{key}"
    options = {"dtype": str, "keep_default_na": False, "na_values": [""]}
    try:
        frame = read_csv_object(store, bucket, key, share, cfg.join_key, cfg.chunk_rows, **options)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    for column in (cfg.join_key, cfg.target):
        if column not in frame.columns:
            raise DataContractError(
                where,
                column,
                "labels files have the join key and the target",
                f"expected columns {cfg.join_key},{cfg.target}; "
                f"found {','.join(map(str, frame.columns)) or 'none'}",
            )
    return frame.drop_duplicates(cfg.join_key).set_index(cfg.join_key)[cfg.target]


def _increments(store: ObjectStore, bucket: str, batch_id: str) -> list[tuple[str, str]]:
    """(date, key) of the batch's increments, oldest first."""
    prefix = storage.label_increments_prefix(batch_id)
    found = []
    for obj in store.list(bucket, prefix):
        parsed = storage.parse_label_increment_key(obj["Key"])
        if parsed is None:
            raise DataContractError(
                f"s3://{bucket}/{obj['Key']}",
                None,
                "label increments are named <YYYY-MM-DD>.csv",
                f"only ISO-dated CSV files belong under {prefix}",
            )
        found.append((parsed[1], obj["Key"]))
    return sorted(found)


def read_labels(
    store: ObjectStore,
    bucket: str,
    cfg: ModelConfig,
    batch_id: str,
    keys: pd.Series,
    share: float | None = None,
) -> BatchLabels | None:
    """The batch's labels for `keys` (join-key values); None when no label object exists.

    A key in several increments takes the newest increment's status. `share`: the keys are
    the monitor's sample of the batch, and only its rows are read.
    """
    complete = storage.labels_key(batch_id)
    if store.exists(bucket, complete):
        status = _status_by_key(store, bucket, complete, cfg, share)
        return BatchLabels(_aligned(status, keys), True, None, 0, [complete])
    increments = _increments(store, bucket, batch_id)
    if not increments:
        return None
    status = pd.concat([_status_by_key(store, bucket, key, cfg, share) for _, key in increments])
    status = status[~status.index.duplicated(keep="last")]
    return BatchLabels(
        _aligned(status, keys),
        False,
        increments[-1][0],
        len(increments),
        [key for _, key in increments],
    )


def _aligned(status: pd.Series, keys: pd.Series) -> pd.Series:
    return pd.Series(status.reindex(keys.to_numpy()).to_numpy(), index=keys.index)
