"""`python -m brewd` is the `brewd` command."""

import sys

from brewd.main import main

sys.exit(main())
