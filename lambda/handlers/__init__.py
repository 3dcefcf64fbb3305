"""The stack's Lambda functions: one module per function, each with a `handler(event, context)`.

FUNCTIONS is the one list of them: the package build, the deploy CLI and the tests read it
from here. Terraform cannot read Python, so deployment/terraform/main.tf keeps its own
`function_keys`; tests/unit/test_layout.py checks that the two agree.
"""

FUNCTIONS: tuple[str, ...] = ("train", "infer", "monitor", "breaker")
