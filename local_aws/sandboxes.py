"""The deployed functions' sandboxes: a function's code and layers found by CodeSha256 among
the built packages (runtime.PackageStore), and the warm pool that runs them (warm.py).

The executor runs every invocation in them; `prestart` starts a function's sandbox before its
first invocation, as Lambda's provisioned concurrency does. The demo does that while Terraform
still applies: the functions exist half a minute before the apply ends (it waits on the SQS
queues), and their imports run meanwhile instead of in each function's first run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from deployment.emulator_env import EMULATOR_ENV
from local_aws.runtime import PackageStore, SandboxSpec, sandbox_spec
from local_aws.warm import WarmPool

CREDENTIALS = {k: EMULATOR_ENV[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


class Sandboxes:
    def __init__(
        self,
        lambda_client,
        endpoint_url: str,
        packages_dir: Path,
        cache_dir: Path | None = None,
        python: str = sys.executable,
        warm: bool = True,
    ):
        """`lambda_client`: on the emulator, to look up a layer's code; its region is the
        functions'."""
        packages_dir = Path(packages_dir)
        cache = Path(cache_dir) if cache_dir else packages_dir.parent / "executor-cache"
        self.packages = PackageStore(packages_dir, cache)
        self.pool = WarmPool(python, cache / "sandboxes", warm=warm)
        self._lambda, self.endpoint_url = lambda_client, endpoint_url
        self.region = lambda_client.meta.region_name
        # CodeSha256 by layer version ARN: a published layer version never changes.
        self._layer_code: dict[str, str] = {}

    def spec(self, config: dict) -> SandboxSpec:
        """The sandbox that runs `config`'s (get_function's Configuration) code and layers."""
        task_dir = self.packages.unpacked(config["CodeSha256"])
        layer_dirs = []
        for layer in config.get("Layers", []):
            if layer["Arn"] not in self._layer_code:
                _, _, _, _, _, _, layer_name, version = layer["Arn"].split(":")
                content = self._lambda.get_layer_version(
                    LayerName=layer_name, VersionNumber=int(version)
                )["Content"]
                self._layer_code[layer["Arn"]] = content["CodeSha256"]
            layer_dirs.append(self.packages.unpacked(self._layer_code[layer["Arn"]]))
        return sandbox_spec(
            config,
            task_dir,
            layer_dirs,
            self.packages.runtime_dir(),
            self.pool,
            self.endpoint_url,
            self.region,
            CREDENTIALS,
        )

    def prestart(self, config: dict) -> None:
        """Start `config`'s sandbox now, unless one is idle already: it imports its handler
        while the caller goes on, and its function's next run takes it."""
        spec = self.spec(config)
        self.pool.prestart(spec.identity, spec.env, spec.cwd)

    def close(self) -> None:
        """Stop the idle sandboxes."""
        self.pool.close()
