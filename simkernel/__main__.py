"""`python -m simkernel`."""

from __future__ import annotations

import sys

from simkernel.cli import main

if __name__ == "__main__":
    sys.exit(main())
