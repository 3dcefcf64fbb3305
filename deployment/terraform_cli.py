"""Running the terraform binary: CLI configuration (provider mirror or registry), the
environment of each run (per-state-dir data dir, emulator credentials) and the calls.

The aws provider comes from a local filesystem mirror when the machine has one
(TF_PLUGIN_MIRROR, /opt/tf-plugins, /usr/share/terraform/plugins, ~/.terraform.d/plugins;
an unpacked mirror is symlinked into the data dir by `init`, nothing is copied) and from
the public registry otherwise, through a plugin cache shared by all state dirs (the
provider is ~700 MB: downloaded once).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from deployment.emulator_env import EMULATOR_ENV

# The root module; the deploy CLI runs every command in it (`-chdir`).
TERRAFORM_DIR = Path(__file__).resolve().parent / "terraform"
PLUGIN_CACHE = Path(
    os.environ.get("TF_PLUGIN_CACHE_DIR")
    or Path.home() / ".cache" / "mlcycle" / "terraform-plugins"
)
PROVIDER = "registry.terraform.io/hashicorp/aws"
MIRROR_CANDIDATES = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "~/.terraform.d/plugins")
# Environment variables that would point Terraform at other credentials than the emulator's.
_AWS_IDENTITY_VARS = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_DEFAULT_PROFILE",
)


class DeployError(RuntimeError):
    """A deployment step failed; the message says which and why."""


def find_provider_mirror() -> Path | None:
    """A directory holding the aws provider in filesystem-mirror layout, or None."""
    override = os.environ.get("TF_PLUGIN_MIRROR")
    candidates = [override] if override else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        root = Path(candidate).expanduser()
        provider_dir = root / PROVIDER
        unpacked = list(
            provider_dir.glob("*/*/terraform-provider-aws*")
        )  # <version>/<os_arch>/binary
        packed = list(provider_dir.glob("terraform-provider-aws_*.zip"))
        if unpacked or packed:
            return root
    if override:
        raise DeployError(f"TF_PLUGIN_MIRROR={override} holds no {PROVIDER} provider")
    return None


def cli_config(mirror: Path | None, plugin_cache: Path = PLUGIN_CACHE) -> str:
    """Terraform CLI config: the aws provider from the mirror when there is one, else the
    registry."""
    packed = mirror is not None and any((mirror / PROVIDER).glob("terraform-provider-aws_*.zip"))
    if mirror is None or packed:
        # Registry downloads and packed (zip) mirrors are unpacked once into the shared cache.
        plugin_cache.mkdir(parents=True, exist_ok=True)
        cache = f'plugin_cache_dir = "{plugin_cache}"\n'
        if mirror is None:
            return cache + "provider_installation {\n  direct {}\n}\n"
    else:
        cache = ""
    return cache + (
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{PROVIDER}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
        "}\n"
    )


def workspace(endpoint: str, work_dir: Path) -> dict:
    """Write work_dir's CLI config (mirror or registry) and return the environment of runs there."""
    (work_dir / "terraform.tfrc").write_text(cli_config(find_provider_mirror()))
    return environment(endpoint, work_dir)


def environment(endpoint: str, state_dir: Path) -> dict:
    """Each state dir has its own CLI config and data dir; emulators get only the test
    credentials."""
    env = dict(os.environ)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(state_dir / "terraform.tfrc"),
            "TF_DATA_DIR": str(state_dir / ".terraform"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",  # no version check call to checkpoint.hashicorp.com
        }
    )
    if endpoint:
        for var in _AWS_IDENTITY_VARS:
            env.pop(var, None)
        env.update(EMULATOR_ENV)
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def run(args: list[str], env: dict, quiet: bool) -> str:
    """`terraform -chdir=deployment/terraform <args>`: its output (streamed to stderr unless
    quiet), or DeployError."""
    binary = shutil.which("terraform")
    if not binary:
        raise DeployError(
            "terraform not found on PATH (https://developer.hashicorp.com/terraform/install)"
        )
    cmd = [binary, f"-chdir={TERRAFORM_DIR}", *args, "-no-color"]
    if quiet:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        output, code = proc.stdout, proc.returncode
        detail = proc.stderr or proc.stdout
    else:  # stream the progress as it comes (to stderr: stdout is for results)
        lines = []
        with subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            for line in proc.stdout:
                sys.stderr.write(line)
                lines.append(line)
        output, code = "".join(lines), proc.returncode
        detail = "".join(lines[-60:])
    if code != 0:
        raise DeployError(f"`terraform {' '.join(args)}` failed (exit {code}):\n{detail}")
    return output


def init(state_dir: Path, env: dict, quiet: bool) -> None:
    """(Re)initialise with the local backend's state file inside state_dir."""
    run(
        [
            "init",
            "-input=false",
            "-reconfigure",
            f"-backend-config=path={state_dir / 'terraform.tfstate'}",
        ],
        env,
        quiet,
    )
