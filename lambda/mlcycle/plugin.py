"""Load the data scientist's train.py / inference.py and hold them to the plug-in contract.

The platform trusts nothing a plug-in returns: a wrong shape here would otherwise
surface hours later as a broken report or, worse, as published garbage.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from mlcycle.config import ModelConfig
from mlcycle.errors import PluginContractError
from mlcycle.prior_shift import PriorShifted, most_likely, shifted

_LIBRARY_ROOT = Path(__file__).resolve().parent.parent
# A function package has model/ beside mlcycle/; the source tree has it beside lambda/.
DEFAULT_MODEL_DIRS = (_LIBRARY_ROOT / "model", _LIBRARY_ROOT.parent / "model")


def model_dir() -> Path:
    """MODEL_DIR if set, else the first `model/` found where a package or the source tree
    keeps it."""
    if os.environ.get("MODEL_DIR"):
        return Path(os.environ["MODEL_DIR"])
    return next((d for d in DEFAULT_MODEL_DIRS if d.is_dir()), DEFAULT_MODEL_DIRS[0])


def _load_module(path: Path, function: str) -> Callable:
    if not path.exists():
        raise PluginContractError(str(path), function, f"be defined in {path.name}", "no such file")
    # The folder goes on sys.path and modules keep their own names, so helpers the
    # model pickles by reference (model/booking_features.py, say) import again at load time.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    # The code below needs a spec with a loader: what a .py path always gets.
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    fn = getattr(module, function, None)
    if not callable(fn):
        raise PluginContractError(
            str(path), function, "be a function defined at module level", f"{type(fn).__name__}"
        )
    return fn


@dataclass
class Predictions:
    """What predict() gave, normalised: labels always; probabilities when the plug-in has them."""

    labels: np.ndarray
    proba: pd.DataFrame | None


class Plugin:
    def __init__(self, folder: Path, cfg: ModelConfig):
        self.train_file = folder / cfg.training_script
        self.infer_file = folder / cfg.inference_script
        self.classes = cfg.classes
        self._train = _load_module(self.train_file, "train")
        self._predict = _load_module(self.infer_file, "predict")

    def train(self, features: pd.DataFrame, target: pd.Series, params: dict) -> object:
        model = self._train(features, target, dict(params))
        if model is None:
            raise PluginContractError(
                str(self.train_file), "train", "return a fitted model object", "None"
            )
        try:
            # The model store keeps the model's pickle (registry.model_bytes).
            with open(os.devnull, "wb") as discard:
                pickle.dump(model, discard, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # any pickling failure is the plug-in's, whatever its type
            raise PluginContractError(
                str(self.train_file),
                "train",
                "return a picklable model",
                f"{type(model).__name__} that fails to pickle ({exc})",
            ) from None
        return model

    def predict(self, model: object, features: pd.DataFrame) -> Predictions:
        if isinstance(model, PriorShifted):
            inner = self.predict(model.model, features)
            if inner.proba is None:
                raise PluginContractError(
                    str(self.infer_file),
                    "predict",
                    "return class probabilities for a model re-weighted by a recovery",
                    "labels only",
                )
            offsets = pd.Series(model.offsets, index=list(model.classes))[self.classes]
            proba = shifted(inner.proba, offsets.to_numpy())
            return Predictions(most_likely(proba), proba)
        out = self._predict(model, features)
        where, n = str(self.infer_file), len(features)
        if isinstance(out, pd.DataFrame):
            return Predictions(*self._check_proba(out, n, where))
        arr = np.asarray(out) if isinstance(out, (np.ndarray, pd.Series, list)) else None
        if arr is None or arr.ndim != 1:
            raise PluginContractError(
                where,
                "predict",
                "return a DataFrame of class probabilities (one column per class) "
                "or a 1-D array of labels",
                f"{type(out).__name__}",
            )
        if len(arr) != n:
            raise PluginContractError(
                where, "predict", f"return one label per row ({n})", f"{len(arr)} labels"
            )
        unknown = set(pd.unique(arr.astype(str))) - set(self.classes)
        if unknown:
            raise PluginContractError(
                where,
                "predict",
                f"return labels from {self.classes}",
                f"unknown {sorted(unknown)[:5]}",
            )
        return Predictions(arr.astype(object), None)

    def model_inputs(self, model: object, features: pd.DataFrame) -> pd.DataFrame | None:
        """What the final estimator of a scikit-learn Pipeline sees, for monitoring; None for
        any other model, or when the pipeline's steps cannot say (monitoring must not fail
        a batch the model itself scores)."""
        if isinstance(model, PriorShifted):
            model = model.model
        steps = getattr(model, "steps", None)
        if not steps or len(steps) < 2:
            return None
        try:
            head = model[:-1]  # type: ignore[index]
            values = head.transform(features)
            names = [str(n) for n in head.get_feature_names_out()]
        except Exception:  # noqa: BLE001 - a pipeline that cannot describe itself is not monitored
            return None
        if isinstance(values, pd.DataFrame):
            return values.set_axis(names, axis=1).reset_index(drop=True)
        dense = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        return pd.DataFrame(dense, columns=names)

    def _check_proba(
        self, out: pd.DataFrame, n: int, where: str
    ) -> tuple[np.ndarray, pd.DataFrame]:
        cols = [str(c) for c in out.columns]
        if sorted(cols) != sorted(self.classes):
            raise PluginContractError(
                where,
                "predict",
                f"return one probability column per class {self.classes}",
                f"columns {cols}",
            )
        if len(out) != n:
            raise PluginContractError(
                where, "predict", f"return one row per input row ({n})", f"{len(out)} rows"
            )
        proba = out.set_axis(cols, axis=1)[self.classes].astype("float64")
        values = proba.to_numpy()
        if not np.isfinite(values).all() or (values < 0).any():
            raise PluginContractError(
                where, "predict", "return finite probabilities >= 0", "NaN, inf or negative values"
            )
        if n and not np.allclose(values.sum(axis=1), 1.0, atol=1e-3):
            raise PluginContractError(
                where,
                "predict",
                "return rows that sum to 1",
                f"row sums from {values.sum(axis=1).min():.3f}",
            )
        proba.index = pd.RangeIndex(n)
        return most_likely(proba), proba


def load_plugin(cfg: ModelConfig, folder: Path | None = None) -> Plugin:
    return Plugin(folder or model_dir(), cfg)
