"""``python -m harness``: the console script, also as a module (``torchrun -m harness train SPEC``,
``accelerate launch -m harness train SPEC``)."""

import sys

from harness.cli import main

if __name__ == "__main__":  # importing the module (tools, tests) must not run the CLI
    sys.exit(main())
