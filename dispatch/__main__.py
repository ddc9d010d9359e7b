"""`python -m dispatch` runs the `flashdispatch` command line."""

import sys

from dispatch.cli import main

sys.exit(main())
