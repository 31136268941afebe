"""`python -m symgraph demo`."""

import sys

from symgraph.cli import main

sys.exit(main())
