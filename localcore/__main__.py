"""``python -m localcore``: see :mod:`localcore.cli`."""

import sys

from localcore.cli import main

sys.exit(main())
