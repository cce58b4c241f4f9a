"""``python -m runner.analysis PATH [--summary]``."""

import sys

from runner.analysis.cli import main

sys.exit(main())
