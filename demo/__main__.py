"""`python -m demo --days 30 --seed 7` (the Makefile's `demo`): see demo/runner.py."""

import sys

from demo.runner import main

sys.exit(main())
