"""The Terraform module's inputs: the built packages (hashes checked against the files), the
model's name, rules and alarm settings read by the platform's own code, the region, and the
settings that differ between AWS and a throwaway emulator."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3

from deployment.emulator_env import user_region
from deployment.terraform_cli import DeployError
from handlers import FUNCTIONS
from layers.zips import sha256_file
from mlcycle.config import load_config
from mlcycle.errors import ConfigError
from mlcycle.monitoring.rules import RULES, Settings, parse_settings
from mlcycle.monitoring.thresholds import alarm_settings

REPO = Path(__file__).resolve().parents[1]


def _package(entry: dict, packages_dir: Path, what: str) -> dict:
    path = Path(entry["path"])
    if not path.is_absolute():
        path = packages_dir / path
        if not path.exists():  # a path relative to the repo root, as the build may write it
            path = REPO / entry["path"]
    if not path.exists():
        raise DeployError(f"{what}: {path} does not exist (run `make package`)")
    digest = sha256_file(path)
    actual, actual_b64 = digest.hex(), base64.b64encode(digest).decode()
    # The manifest may carry the digest as hex or base64 (Lambda's CodeSha256 form), or both.
    claimed = [entry[k] for k in ("sha256", "sha256_hex", "base64sha256") if entry.get(k)]
    if claimed and not all(c in (actual, actual_b64) for c in claimed):
        raise DeployError(
            f"{what}: {path} has sha256 {actual}, the manifest says {claimed}: "
            "rebuild with `make package`"
        )
    return {"path": str(path.resolve()), "sha256": actual, "base64sha256": actual_b64}


def package_vars(packages_dir: Path, packaging: str) -> dict:
    """The `packages` variable from build/packages/manifest.json, hashes checked against the
    files."""
    manifest_path = packages_dir / "manifest.json"
    if not manifest_path.exists():
        raise DeployError(
            f"{manifest_path} not found: run `make package` "
            f"(python -m layers.build --out {packages_dir})"
        )
    manifest = json.loads(manifest_path.read_text())
    section = "functions" if packaging == "layer" else "bundled"
    zips = manifest.get(section) or {}
    missing = [fn for fn in FUNCTIONS if fn not in zips]
    if missing:
        raise DeployError(f"{manifest_path}: no {section} package for {', '.join(missing)}")
    result: dict = {
        section: {fn: _package(zips[fn], packages_dir, f"{section}/{fn}") for fn in FUNCTIONS}
    }
    if packaging == "layer":
        if not manifest.get("layer"):
            raise DeployError(f"{manifest_path}: no layer entry (packaging=layer needs it)")
        result["layer"] = _package(manifest["layer"], packages_dir, "layer")
    return result


def rule_variables(settings: Settings | None = None) -> dict:
    """The `rules` variable from the rule table (mlcycle.monitoring.rules): one verdict alarm
    per rule the monitor judges, none for a rule the config disables."""
    return {
        rule.name: {"trips": rule.trips, "description": rule.meaning}
        for rule in RULES
        if rule.alarmed and (settings is None or settings.rule(rule.name).enabled)
    }


def model_settings(model_config: Path) -> dict:
    """model_name, rules and alarm_overrides from model_config.yml, read by the platform's own
    code (mlcycle.config, mlcycle.monitoring.rules, mlcycle.monitoring.thresholds): the alarms
    watch what the monitor judges and publishes."""
    try:
        cfg = load_config(model_config)
        rules = rule_variables(parse_settings(cfg.monitoring))
        alarms = alarm_settings(
            cfg.monitoring.get("alarms"), where=f"{model_config}: monitoring.alarms"
        )
    except ConfigError as exc:
        raise DeployError(str(exc)) from None
    settings: dict = {"model_name": cfg.name, "rules": rules}
    if alarms:
        settings["alarm_overrides"] = alarms
    return settings


def tf_variables(
    endpoint: str,
    packaging: str,
    packages_dir: Path,
    model_config: Path | None,
    extra: dict | None = None,
) -> dict:
    variables: dict = {
        "endpoint_url": endpoint,
        "region": deploy_region(endpoint),
        "packaging": packaging,
        "packages": package_vars(packages_dir, packaging),
        "rules": rule_variables(),
        # Throwaway emulators: let destroy empty the buckets. On AWS data is never deleted
        # implicitly.
        "force_destroy_buckets": bool(endpoint),
    }
    if endpoint:
        # Version expiry means nothing on a throwaway emulator, and the provider waits about a
        # minute for lifecycle rules to settle. Pass extra_vars to have them anyway.
        variables["noncurrent_version_retention_days"] = 0
    if model_config and model_config.exists():
        variables.update(model_settings(model_config))
    variables.update(extra or {})
    return variables


def deploy_region(endpoint: str) -> str:
    """The user's region: the environment for an emulator; on AWS also the profile's, as the
    AWS CLI resolves it."""
    if endpoint:
        return user_region()
    return boto3.session.Session().region_name or user_region()
