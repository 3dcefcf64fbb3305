"""`python -m demo [--scenario FILE] [--days N] [--seed S]` (the Makefile's `demo`): see
demo/runner.py; scenario files: demo/scenario_file.py."""

import sys

from demo.runner import main

sys.exit(main())
