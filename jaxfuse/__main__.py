"""``python -m jaxfuse`` is the ``jaxfuse`` command."""

import sys

from jaxfuse.cli import main

sys.exit(main())
