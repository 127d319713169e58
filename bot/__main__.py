"""`python -m bot <command>`: the command line lives in `bot.cli.main`."""

import sys

from bot.cli.main import main

sys.exit(main())
