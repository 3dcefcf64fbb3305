"""The layout's rules that no import error would catch: what may import what, and the lists
kept in two languages."""
from __future__ import annotations

import re
from pathlib import Path

from handlers import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_terraform_deploys_the_functions_the_handlers_package_names():
    main_tf = (ROOT / "deployment" / "terraform" / "main.tf").read_text()
    match = re.search(r"function_keys\s*=\s*toset\(\[([^\]]*)\]\)", main_tf)
    assert match, "deployment/terraform/main.tf: no `function_keys = toset([...])` in locals"
    assert sorted(re.findall(r'"([^"]+)"', match.group(1))) == sorted(FUNCTIONS)
