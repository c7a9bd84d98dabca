"""`python -m atom_host_stub` is `atom-host`."""

import sys

from atom_host_stub.cli import main

sys.exit(main())
