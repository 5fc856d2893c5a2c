"""``python -m harness``: the console script, also as a module (``torchrun -m harness train SPEC``,
``accelerate launch -m harness train SPEC``)."""

import sys

from harness.cli import main

sys.exit(main())
