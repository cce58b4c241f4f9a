"""``python -m runner.analysis PATH [--summary]``."""

import sys

from runner.__main__ import _ensure_contracts_importable

# Run by hand from ec2-runner/, the shared contracts (chalicelib) live one folder up.
_ensure_contracts_importable()

from runner.analysis.cli import main  # noqa: E402  (needs chalicelib on the path)

sys.exit(main())
