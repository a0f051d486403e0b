import sys

from deltafed.cli import main

sys.exit(main())
