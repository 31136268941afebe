"""`python -m benchmarks`: see benchmarks/README.md and benchmarks/run.py."""

import sys

from benchmarks.run import main

sys.exit(main())
