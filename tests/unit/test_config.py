import pytest
import yaml

from mlcycle.config import load_config, parse_config
from mlcycle.errors import ConfigError
from tests.conftest import MODEL_DIR, VIO_DATA


def test_project_config_loads_with_named_sources():
    cfg = load_config(MODEL_DIR / "model_config.yml")
    assert [s.name for s in cfg.sources] == ["bookings", "hotels"]
    assert (cfg.target, cfg.join_key, cfg.classes) == (
        "status",
        "hotel_id",
        ["booked", "cancelled", "fulfilled"],
    )
    assert cfg.target_source.name == "bookings" and [s.name for s in cfg.attribute_sources] == [
        "hotels"
    ]
    assert list(cfg.feature_columns) == [
        "date",
        "check_in",
        "check_out",
        "day_distance",
        "length_of_stay",
        "country_code",
    ]
    assert "status" not in cfg.input_spec.column_names
    assert cfg.feature_columns["country_code"].kind == "categorical"
    assert cfg.feature_columns["day_distance"].kind == "numeric"


@pytest.mark.skipif(not VIO_DATA.is_dir(), reason="../shared/vio-data is not present")
def test_original_assignment_config_loads_despite_its_typo():
    cfg = load_config(VIO_DATA / "model_config.yml")
    assert [s.name for s in cfg.sources] == ["A", "B"]
    assert cfg.target == "status" and cfg.join_key == "hotel_id" and cfg.name == "YourNewModel"
    # the file says ["date", check_in"]: the stray quote must not leak into the column name
    assert cfg.target_source.column("day_distance").calculated_from == ("date", "check_in")


def _raw():
    return yaml.safe_load((MODEL_DIR / "model_config.yml").read_text())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("features"), "needs a 'features' list"),
        (
            lambda r: r["features"][0]["columns"][1].update(type="timestamp"),
            "type 'timestamp' is not one of",
        ),
        (
            lambda r: r["features"][1]["columns"].pop(0),
            "source 'hotels' lacks the join key 'hotel_id'",
        ),
        (lambda r: r.update(target="country_code"), "needs its class list"),
        (lambda r: r.update(target="nope"), "target 'nope' must be in exactly one source"),
        (lambda r: r["features"][1].update(name="bookings"), "source names must be unique"),
        (
            lambda r: r.update(training={"holdout_fraction": 1.5}),
            "holdout_fraction must be between 0 and 1",
        ),
        (
            lambda r: r["monitoring"].update(label_due_column="length_of_stay"),
            "label_due_column 'length_of_stay' to be a datetime column of the source 'bookings'",
        ),
        (
            lambda r: r["monitoring"].update(label_due_column="country_code"),
            "label_due_column 'country_code' to be a datetime column of the source 'bookings'",
        ),
        (
            lambda r: r.update(time_column="day_distance"),
            "needs time_column 'day_distance' to be a datetime column",
        ),
        (lambda r: r["monitoring"].update(label_due_column=3), "expected a column name"),
    ],
)
def test_bad_config_says_what_to_fix(mutate, message):
    raw = _raw()
    mutate(raw)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_missing_and_invalid_files_name_the_path(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("features: [unclosed")
    with pytest.raises(ConfigError, match="bad.yml: not valid YAML"):
        load_config(bad)
