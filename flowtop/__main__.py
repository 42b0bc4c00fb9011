"""``python -m flowtop``."""

import sys

from flowtop.cli import main

if __name__ == "__main__":
    sys.exit(main())
