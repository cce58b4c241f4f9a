"""``python -m runner.analysis PATH [--summary]``.

``chalicelib`` (the shared contracts) comes from the installed repository (``pip install -e .``).
"""

import sys

from runner.analysis.cli import main

sys.exit(main())
