"""`python -m training`: hand over to the CLI and exit with its code."""

import sys

from training.cli import main

if __name__ == "__main__":
    sys.exit(main())
