"""``python -m bsonflow_ray``: the same as the ``bsonflow-ray`` command."""

import sys

from .driver import main

sys.exit(main())
