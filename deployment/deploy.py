"""Apply or destroy the Terraform stack in deployment/terraform/ on AWS or on any emulator endpoint.

    python -m deployment.deploy apply   --endpoint URL --packaging layer|bundled [--state-dir DIR]
    python -m deployment.deploy destroy --endpoint URL [--state-dir DIR]
    python -m deployment.deploy outputs --endpoint URL [--state-dir DIR]
    python -m deployment.deploy validate
    python -m deployment.deploy init-state --endpoint URL [--state-dir DIR]
    python -m deployment.deploy check --endpoint URL

An empty endpoint is real AWS (credentials from the usual AWS chain). Anything else is an
emulator URL (LocalStack, moto_server): every provider endpoint points there and the
fixed test/test credentials are used. Each endpoint gets its own working directory
(CLI config, tfvars, Terraform data dir, state) under deployment/.state/, or `--state-dir`:
tests against a throwaway emulator never touch a user's state. `validate` checks the module
alone (no endpoint, no state), as the Makefile's lint does.

Terraform gets the aws provider from a local filesystem mirror when the machine has one
and from the public registry otherwise (terraform_cli.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from deployment.clients import client
from deployment.terraform_cli import DeployError
from deployment.terraform_cli import init as _init
from deployment.terraform_cli import run as _terraform
from deployment.terraform_cli import workspace as _workspace
from deployment.variables import REPO, tf_variables
from mlcycle.breaker.state import create_initial
from mlcycle.objectstore import ObjectStore

DEFAULT_PACKAGES = REPO / "build" / "packages"
DEFAULT_MODEL_CONFIG = REPO / "model" / "model_config.yml"
# Beside the module, not in it: the state path goes to the backend with -backend-config, so
# state written before the module moved to deployment/terraform/ is found where it was.
STATE_ROOT = REPO / "deployment" / ".state"
# --- variables ------------------------------------------------------------------------


def default_state_dir(endpoint: str) -> Path:
    """deployment/.state/aws for AWS, deployment/.state/<host>-<port> for an emulator."""
    if not endpoint:
        return STATE_ROOT / "aws"
    parsed = urlparse(endpoint)
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"{parsed.hostname}-{parsed.port or ''}").strip("-")
    return STATE_ROOT / slug


def check_listening(endpoint: str, timeout_s: float = 3.0) -> None:
    """Fail fast, with the way out, when nothing answers at an emulator endpoint."""
    parsed = urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", port), timeout_s).close()
    except OSError as exc:
        raise DeployError(
            f"nothing listens at {endpoint} ({exc.strerror or exc}). Start a local AWS first: "
            f"`make up LOCAL_AWS_PORT={port}` (no Docker; then `make deploy-local "
            f"LOCAL_AWS_PORT={port}`), or "
            "LocalStack with `docker compose up localstack`; an empty endpoint deploys to AWS"
        ) from None


def _prepare(endpoint: str, state_dir: Path | None) -> tuple[Path, dict]:
    if endpoint:
        check_listening(endpoint)
    state_dir = Path(state_dir or default_state_dir(endpoint)).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if state_dir.parent == STATE_ROOT.resolve():
        (STATE_ROOT / ".gitignore").write_text("*\n")
    return state_dir, _workspace(endpoint, state_dir)


def drop_stale_state(endpoint: str, state_dir: Path) -> bool:
    """Move aside a state whose buckets the emulator has none of (True).

    An emulator that starts empty (a new `make up`, LocalStack restarted without persistence)
    would otherwise be planned against resources that no longer exist. AWS is never guessed
    at: there a missing bucket is a problem to look at, not to paper over.
    """
    state = state_dir / "terraform.tfstate"
    if not endpoint or not state.exists():
        return False
    resources = json.loads(state.read_text() or "{}").get("resources", [])
    buckets = {
        instance["attributes"]["id"]
        for r in resources
        if r.get("mode") == "managed" and r.get("type") == "aws_s3_bucket"
        for instance in r.get("instances", [])
    }
    existing = {b["Name"] for b in client("s3", endpoint).list_buckets().get("Buckets", [])}
    if not buckets or buckets & existing:
        return False
    state.rename(state_dir / f"terraform.tfstate.stale-{time.strftime('%Y%m%dT%H%M%S')}")
    sys.stderr.write(
        f"deploy: {endpoint} has none of the buckets in {state} (a fresh emulator): "
        "that state was moved aside, the stack is created anew\n"
    )
    return True


def outputs(endpoint: str = "", state_dir: Path | None = None) -> dict:
    """The stack's outputs as plain values ({} when nothing is deployed there)."""
    state_dir, env = _prepare(endpoint, state_dir)
    if not (state_dir / "terraform.tfstate").exists():
        return {}
    if not (state_dir / ".terraform").exists():
        _init(state_dir, env, quiet=True)
    raw = json.loads(_terraform(["output", "-json"], env, quiet=True) or "{}")
    return {name: item["value"] for name, item in raw.items()}


def apply(
    endpoint: str = "",
    packaging: str = "layer",
    state_dir: Path | None = None,
    *,
    packages_dir: Path = DEFAULT_PACKAGES,
    model_config: Path | None = DEFAULT_MODEL_CONFIG,
    extra_vars: dict | None = None,
    quiet: bool = False,
) -> dict:
    """`terraform init` + `apply -auto-approve`; returns the outputs (bucket, function, rule
    names...)."""
    if packaging not in ("layer", "bundled"):
        raise DeployError(f"packaging must be 'layer' or 'bundled', not {packaging!r}")
    state_dir, env = _prepare(endpoint, state_dir)
    variables = tf_variables(
        endpoint,
        packaging,
        Path(packages_dir),
        Path(model_config) if model_config else None,
        extra_vars,
    )
    var_file = state_dir / "deploy.tfvars.json"
    var_file.write_text(json.dumps(variables, indent=2))
    started = time.monotonic()
    drop_stale_state(endpoint, state_dir)
    _init(state_dir, env, quiet)
    _terraform(
        ["apply", "-auto-approve", "-input=false", "-parallelism=20", f"-var-file={var_file}"],
        env,
        quiet,
    )
    result = outputs(endpoint, state_dir)
    created = init_state(endpoint, result)
    if not quiet:
        sys.stderr.write(
            f"deploy: applied to {endpoint or 'AWS'} in {time.monotonic() - started:.1f}s "
            f"(state: {state_dir}); breaker state "
            f"{'created CLOSED' if created else 'already there, kept'}\n"
        )
    return result


def init_state(endpoint: str, stack: dict) -> bool:
    """Create the breaker's CLOSED state once (True), or keep the one there (False).

    `apply` does it; after a `terraform apply` run by hand, `python -m deployment.deploy
    init-state` does. Until it exists the functions read the state as UNKNOWN and hold.
    """
    return create_initial(ObjectStore(client("s3", endpoint)), stack["buckets"]["monitoring"])


def pending_changes(endpoint: str = "", state_dir: Path | None = None) -> list[str]:
    """`terraform plan` with the variables of the last apply: the resources it would change
    ([] right after an apply, unless the endpoint drifts or answers inconsistently)."""
    state_dir, env = _prepare(endpoint, state_dir)
    var_file = state_dir / "deploy.tfvars.json"
    if not var_file.exists():
        raise DeployError(f"nothing applied from {state_dir}")
    _init(state_dir, env, quiet=True)
    text = _terraform(
        ["plan", "-input=false", "-parallelism=20", f"-var-file={var_file}"], env, quiet=True
    )
    return re.findall(r"^\s*# (\S+) (?:will|must) be ", text, re.M)


def destroy(endpoint: str = "", state_dir: Path | None = None, *, quiet: bool = False) -> None:
    """`terraform destroy` with the variables of the last apply to this endpoint / state dir."""
    state_dir, env = _prepare(endpoint, state_dir)
    var_file = state_dir / "deploy.tfvars.json"
    if not (state_dir / "terraform.tfstate").exists() or not var_file.exists():
        sys.stderr.write(f"deploy: nothing deployed to {endpoint or 'AWS'} from {state_dir}\n")
        return
    _init(state_dir, env, quiet)
    _terraform(
        ["destroy", "-auto-approve", "-input=false", "-parallelism=20", f"-var-file={var_file}"],
        env,
        quiet,
    )


def validate() -> str:
    """`terraform init -backend=false` + `terraform validate` in a throwaway data dir: the
    module's own consistency, with no endpoint or state. The lock file is read-only here, so
    a check never rewrites the committed provider selection. Returns validate's message."""
    with tempfile.TemporaryDirectory(prefix="terraform-validate-") as tmp:
        env = _workspace("", Path(tmp))
        _terraform(
            ["init", "-backend=false", "-input=false", "-lockfile=readonly"], env, quiet=True
        )
        return _terraform(["validate"], env, quiet=True).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployment.deploy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "command", choices=["apply", "destroy", "outputs", "validate", "init-state", "check"]
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL", ""),
        help="emulator URL; empty = real AWS (default: $AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--packaging", choices=["layer", "bundled"], default="layer")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="working/state directory (default: deployment/.state/<endpoint>)",
    )
    parser.add_argument("--packages-dir", type=Path, default=DEFAULT_PACKAGES)
    parser.add_argument("--model-config", type=Path, default=DEFAULT_MODEL_CONFIG)
    parser.add_argument(
        "--function-endpoint",
        default="",
        help="AWS_ENDPOINT_URL inside the functions (only for emulators that do not inject one)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "apply":
            extra = (
                {"function_endpoint_url": args.function_endpoint}
                if args.function_endpoint
                else None
            )
            result = apply(
                args.endpoint,
                args.packaging,
                args.state_dir,
                packages_dir=args.packages_dir,
                model_config=args.model_config,
                extra_vars=extra,
            )
            print(json.dumps(result, indent=2))
        elif args.command == "destroy":
            destroy(args.endpoint, args.state_dir)
        elif args.command == "validate":
            print(validate())
        elif args.command == "check":
            if args.endpoint:
                check_listening(args.endpoint)
            print(f"deploy: {args.endpoint} answers" if args.endpoint else "deploy: to AWS")
        elif args.command == "init-state":
            stack = outputs(args.endpoint, args.state_dir)
            if not stack:
                raise DeployError(f"nothing deployed to {args.endpoint or 'AWS'}: apply first")
            created = init_state(args.endpoint, stack)
            print("breaker state created CLOSED" if created else "breaker state exists: kept")
        else:
            print(json.dumps(outputs(args.endpoint, args.state_dir), indent=2))
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
