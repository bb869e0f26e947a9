"""`python -m host_tools` is the `smartbin` command."""
import sys

from host_tools.cli import main

sys.exit(main())
