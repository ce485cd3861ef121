"""`python -m brewd` is the `brewd` command."""

import sys

from brewd.cli.brewd import main

sys.exit(main())
