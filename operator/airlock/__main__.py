"""`python -m airlock` is the `airlock` command."""

import sys

from airlock.cli.main import main

sys.exit(main())
