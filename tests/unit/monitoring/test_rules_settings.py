"""Rule settings from model_config.yml's monitoring section: defaults, overrides, errors."""

import copy

import pytest
import yaml

from mlcycle.config import load_config, parse_config
from mlcycle.errors import ConfigError
from mlcycle.monitoring.rules import (
    BY_NAME,
    RULE_NAMES,
    RULES,
    RuleSettings,
    Settings,
    parse_settings,
)
from tests.conftest import MODEL_DIR


def test_defaults():
    settings = parse_settings({})
    assert set(settings.rules) == set(RULE_NAMES)
    for rule in RULES:
        config = settings.rule(rule.name)
        assert config.enabled is True
        assert (config.warn_z, config.trip_z) == (3.0, 5.0)
        assert config.min_effect == rule.min_effect
        assert (config.warn_below, config.trip_below, config.warn_above, config.trip_above) == (
            None,
            None,
            None,
            None,
        )
    assert settings.rule("JoinCoverage").min_effect == 0.01
    assert settings.rule("FeatureDrift").min_effect == 0.1
    assert (settings.window_batches, settings.min_window) == (20, 5)
    # CUSUM: k = 1 sd of allowance, warn at 3, trip at 4 (a lasting 2 sd shift trips in ~4)
    assert (settings.cusum_k, settings.cusum_warn, settings.cusum_trip) == (1.0, 3.0, 4.0)
    assert settings.volume_floor == 0.5
    assert settings.drift_alpha == 0.001
    assert settings.drift_min_count == 30
    assert settings.model_inputs_sample == 20_000
    assert (settings.calibration_batches, settings.calibration_min_rows) == (7, 2000)
    assert settings.expected_rows is None


def test_none_sections_are_defaults():
    assert parse_settings({"limits": None, "rules": None}) == parse_settings({})


def test_only_performance_and_integrity_rules_trip():
    tripping = {rule.name for rule in RULES if rule.trips}
    assert tripping == {
        "JoinCoverage",
        "NullRate",
        "ViolationRate",
        "Volume",
        "EstimatedAccuracy",
        "EarlyPositiveRate",
        "LabelsOverdue",
        "RealisedAccuracy",
        "PositiveRateGap",
    }
    assert not BY_NAME["FeatureDrift"].trips and not BY_NAME["PositiveRate"].trips


def test_global_limits_apply_to_every_rule():
    settings = parse_settings(
        {
            "limits": {
                "warn_z": 2.5,
                "trip_z": 6,
                "window_batches": 30,
                "min_window": 8,
                "cusum_k": 2,
                "drift_alpha": 0.01,
                "calibration_min_rows": 500.0,  # a whole number written as a float
            },
            "expected_batch_rows": 2000,
        }
    )
    assert all((r.warn_z, r.trip_z) == (2.5, 6.0) for r in settings.rules.values())
    assert (settings.window_batches, settings.min_window) == (30, 8)
    assert isinstance(settings.window_batches, int)
    assert settings.calibration_min_rows == 500 and isinstance(settings.calibration_min_rows, int)
    assert settings.cusum_k == 2.0 and isinstance(settings.cusum_k, float)
    assert settings.drift_alpha == 0.01
    assert settings.expected_rows == 2000
    # untouched settings keep their defaults
    defaults = parse_settings({})
    assert settings.cusum_trip == defaults.cusum_trip
    assert settings.volume_floor == defaults.volume_floor == 0.5


def test_rule_overrides_replace_only_that_rule():
    settings = parse_settings(
        {
            "limits": {"warn_z": 2, "trip_z": 4},
            "rules": {
                "JoinCoverage": {"trip_below": 0.9, "warn_below": 0.95, "trip_z": 8},
                "FeatureDrift": {"enabled": False, "min_effect": 0.2},
            },
        }
    )
    join = settings.rule("JoinCoverage")
    assert join == RuleSettings(
        enabled=True, warn_z=2.0, trip_z=8.0, min_effect=0.01, warn_below=0.95, trip_below=0.9
    )
    drift = settings.rule("FeatureDrift")
    assert drift.enabled is False
    assert drift.min_effect == 0.2
    assert (drift.warn_z, drift.trip_z) == (2.0, 4.0)
    assert settings.rule("NullRate") == RuleSettings(warn_z=2.0, trip_z=4.0, min_effect=0.01)


def expect_error(monitoring: dict, *words: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(monitoring)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


def test_unknown_rule_is_named():
    expect_error({"rules": {"JoinCoverge": {"trip_below": 0.9}}}, "monitoring.rules", "JoinCoverge")


def test_unknown_rule_setting_is_named():
    expect_error(
        {"rules": {"NullRate": {"trip_bellow": 0.1}}}, "monitoring.rules.NullRate", "trip_bellow"
    )


def test_unknown_global_setting_is_named():
    expect_error({"limits": {"window": 10}}, "monitoring.limits", "'window'")


def test_warn_z_above_trip_z_globally():
    expect_error({"limits": {"warn_z": 6}}, "monitoring.limits", "warn_z", "trip_z")
    expect_error({"limits": {"warn_z": 4, "trip_z": 3}}, "monitoring.limits", "warn_z")


def test_warn_z_above_trip_z_for_one_rule():
    expect_error(
        {"rules": {"RealisedAccuracy": {"warn_z": 7}}},
        "monitoring.rules.RealisedAccuracy",
        "warn_z",
    )
    # A rule's warn_z against the global trip_z it inherits
    expect_error(
        {"limits": {"trip_z": 4}, "rules": {"Volume": {"warn_z": 4.5}}},
        "monitoring.rules.Volume",
        "warn_z",
    )


@pytest.mark.parametrize(
    "monitoring, key",
    [
        ({"limits": {"warn_z": "3"}}, "monitoring.limits.warn_z"),
        ({"limits": {"window_batches": "20"}}, "monitoring.limits.window_batches"),
        ({"limits": {"window_batches": 2.5}}, "monitoring.limits.window_batches"),
        ({"limits": {"cusum_k": True}}, "monitoring.limits.cusum_k"),
        ({"rules": {"JoinCoverage": {"trip_below": "0.9"}}}, "JoinCoverage.trip_below"),
        ({"rules": {"JoinCoverage": {"enabled": "no"}}}, "JoinCoverage.enabled"),
        ({"rules": {"JoinCoverage": {"min_effect": None}}}, "JoinCoverage.min_effect"),
        ({"expected_batch_rows": "many"}, "expected_batch_rows"),
    ],
)
def test_non_numbers_are_named(monitoring, key):
    expect_error(monitoring, key)


@pytest.mark.parametrize(
    "monitoring",
    [
        {"limits": [1, 2]},
        {"rules": ["JoinCoverage"]},
        {"rules": {"JoinCoverage": 0.9}},
    ],
)
def test_sections_of_the_wrong_shape(monitoring):
    with pytest.raises(ConfigError, match="monitoring"):
        parse_settings(monitoring)


def test_project_config_exposes_rule_settings():
    cfg = load_config(MODEL_DIR / "model_config.yml")
    assert isinstance(cfg.rules, Settings)
    assert set(cfg.rules.rules) == set(RULE_NAMES)
    assert cfg.rules.expected_rows == cfg.monitoring["expected_batch_rows"]


def test_parse_config_reads_the_monitoring_section():
    raw = yaml.safe_load((MODEL_DIR / "model_config.yml").read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw.setdefault("monitoring", {})
    raw["monitoring"]["limits"] = {"trip_z": 7, "min_window": 3}
    raw["monitoring"]["rules"] = {"NullRate": {"enabled": False}}
    cfg = parse_config(raw)
    assert cfg.rules.min_window == 3
    assert cfg.rules.rule("NullRate").enabled is False
    assert cfg.rules.rule("JoinCoverage").trip_z == 7.0


def test_parse_config_rejects_bad_rule_settings():
    raw = yaml.safe_load((MODEL_DIR / "model_config.yml").read_text(encoding="utf-8"))
    raw.setdefault("monitoring", {})
    raw["monitoring"]["rules"] = {"NoSuchRule": {}}
    with pytest.raises(ConfigError, match="NoSuchRule"):
        parse_config(raw)
