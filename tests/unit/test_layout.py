"""The layout's rules that no import error would catch: what may import what, and the lists
kept in two languages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from handlers import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
# Deployed or deploying code. The harness and the demo may import it, never the reverse:
# a product that needs its test stand-in to run is not the product that ships.
PRODUCT_FOLDERS = ("lambda", "deployment", "layers")
HARNESS_PACKAGES = {"local_aws", "demo"}


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports stay inside its own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_product_code_never_imports_the_local_aws_harness_or_the_demo():
    files = [p for folder in PRODUCT_FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 20, "the product folders moved: update PRODUCT_FOLDERS"
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if name.split(".")[0] in HARNESS_PACKAGES
    ]
    assert offenders == []


def test_terraform_deploys_the_functions_the_handlers_package_names():
    main_tf = (ROOT / "deployment" / "terraform" / "main.tf").read_text()
    match = re.search(r"function_keys\s*=\s*toset\(\[([^\]]*)\]\)", main_tf)
    assert match, "deployment/terraform/main.tf: no `function_keys = toset([...])` in locals"
    assert sorted(re.findall(r'"([^"]+)"', match.group(1))) == sorted(FUNCTIONS)


def test_the_terraform_rules_default_is_the_rule_table():
    """A plain `terraform apply` (no deploy CLI) gets the same verdict alarms as a deploy."""
    from deployment.variables import rule_variables

    variables_tf = (ROOT / "deployment" / "terraform" / "variables.tf").read_text()
    block = re.search(r'variable "rules" \{.*?\n  default = \{\n(.*?)\n  \}\n', variables_tf, re.S)
    assert block, 'deployment/terraform/variables.tf: no `variable "rules"` with a default'
    entry = re.compile(
        r'^\s*(\w+)\s*=\s*\{\s*trips\s*=\s*(true|false),\s*description\s*=\s*"([^"]*)"\s*\}$'
    )
    default = {}
    for line in block.group(1).splitlines():
        match = entry.match(line)
        assert match, f"variables.tf rules default: unexpected line {line!r}"
        default[match[1]] = {"trips": match[2] == "true", "description": match[3]}
    assert default == rule_variables()
