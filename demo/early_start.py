"""What the demo starts while Terraform still applies.

Every function exists about half a minute before the apply ends (the AWS provider then waits
for the SQS queues' attributes to settle) and the CPU is idle meanwhile: the functions'
sandboxes start then, importing their handlers (`local_aws.sandboxes`), and so does whatever
else the caller has waiting. A start that fails costs time, never the run: each function's
first run then starts its own sandbox.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from local_aws.sandboxes import Sandboxes

log = logging.getLogger("demo.early_start")
POLL_S = 0.5


class EarlyStart(threading.Thread):
    def __init__(
        self, sandboxes: Sandboxes, lambda_client, functions: int, then: Callable[[], None]
    ):
        """Once `functions` functions are deployed, start their sandboxes, then call `then`."""
        super().__init__(name="early-start", daemon=True)
        self.sandboxes, self.lam = sandboxes, lambda_client
        self.functions, self.then = functions, then
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(POLL_S):
                deployed = self.lam.list_functions()["Functions"]
                if len(deployed) >= self.functions:
                    for config in deployed:
                        self.sandboxes.prestart(config)
                    self.then()
                    return
        except Exception as exc:  # whatever it is: see the module's docstring
            log.warning("sandboxes not started early: %s", exc)

    def finish(self) -> None:
        """Stop looking (the apply is over) and wait for what was started to be under way."""
        self.stopped.set()
        self.join()
