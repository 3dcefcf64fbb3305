"""What a contract refusal cites from the file: the lines of the offending rows (numbered
as in the file, the header being line 1) and a few of the offending values."""

from __future__ import annotations

import numpy as np
import pandas as pd

FIRST_DATA_LINE = 2  # the header is line 1


def line_numbers(mask: np.ndarray, offset: int) -> list[int]:
    return [int(i) + offset + FIRST_DATA_LINE for i in np.flatnonzero(mask)[:20]]


def examples(values: pd.Series, mask: np.ndarray) -> str:
    return ", ".join(repr(v) for v in values[mask].head(3).tolist())
