import sys

from xorsweep.sweep.cli import main

sys.exit(main())
