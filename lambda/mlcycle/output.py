"""Format predictions as CSV bytes, fast.

DataFrame.to_csv formats every float through Python-level code and was two thirds of
a naive scoring run. Here no Python code runs per row: each field becomes a block of bytes
(rows x its longest value, padded with NUL bytes), probabilities rounded to 4 decimals are
looked up in a table of their 10,001 possible texts, the blocks are laid side by side and the
padding dropped. Byte-for-byte the text a join per row gave, twice as fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlcycle.config import ModelConfig
from mlcycle.plugin import Predictions

DECIMALS = 4
_SCALE = 10**DECIMALS
_PROBA_TEXT = np.frombuffer(
    "".join(f"{i / _SCALE:.{DECIMALS}f}" for i in range(_SCALE + 1)).encode(), np.uint8
).reshape(_SCALE + 1, -1)
_SPECIAL = b',"\r\n'  # bytes that make a CSV field need quotes


def _csv_field(value: str) -> str:
    return (
        f'"{value.replace(chr(34), chr(34) * 2)}"' if any(ch in value for ch in ',"\n\r') else value
    )


def _text_block(values: np.ndarray) -> np.ndarray:
    """Strings as a (rows, longest) block of their UTF-8 bytes, NUL-padded (input text has
    no NUL: the reader refuses it)."""
    try:
        encoded = values.astype("S")  # ASCII, converted in C
    except UnicodeEncodeError:
        encoded = np.char.encode(values.astype(str), "utf-8")
    return encoded.view(np.uint8).reshape(len(values), -1)


def _constant(text: str, rows: int) -> np.ndarray:
    data = np.frombuffer(text.encode(), np.uint8)
    return np.broadcast_to(data, (rows, len(data)))


class PredictionWriter:
    """Columns: batch_id, <join key>, predicted_<target>, p_<class>..., model_version."""

    def __init__(self, batch_id: str, model_version: str, cfg: ModelConfig):
        self.classes = cfg.classes
        self.columns = [
            "batch_id",
            cfg.join_key,
            f"predicted_{cfg.target}",
            *[f"p_{c}" for c in cfg.classes],
            "model_version",
        ]
        self.prefix = _csv_field(batch_id) + ","
        self.suffix = "," + _csv_field(model_version)
        self.has_proba = True

    def header(self) -> bytes:
        return (",".join(self.columns) + "\n").encode()

    def rows(self, keys: np.ndarray, predictions: Predictions) -> bytes:
        n = len(keys)
        if n == 0:
            return b""
        ids = _text_block(np.asarray(keys, dtype=object))
        # one comparison a byte value: ten times faster than looking every byte up in a table
        hits = np.logical_or.reduce([ids == byte for byte in _SPECIAL])
        if hits.any():  # rare: quote only the ids that need it
            special = hits.any(axis=1)
            quoted = np.array(keys, dtype=object)  # a copy: the caller's keys stay as they are
            quoted[special] = [_csv_field(k) for k in quoted[special]]
            ids = _text_block(quoted)
        codes, uniques = pd.factorize(predictions.labels, use_na_sentinel=False)
        labels = _text_block(np.array([str(u) for u in uniques], dtype=object))[codes]
        if predictions.proba is None:
            self.has_proba = False
            proba = [ids[:, :0]] * len(self.classes)  # empty fields
        else:
            scaled = np.rint(predictions.proba[self.classes].to_numpy() * _SCALE).astype(np.int64)
            np.clip(scaled, 0, _SCALE, out=scaled)
            proba = [_PROBA_TEXT[scaled[:, i]] for i in range(len(self.classes))]
        comma = _constant(",", n)
        blocks = [_constant(self.prefix, n), ids, comma, labels]
        blocks += [part for p in proba for part in (comma, p)]
        table = np.hstack([*blocks, _constant(self.suffix + "\n", n)])
        return table[table != 0].tobytes()
