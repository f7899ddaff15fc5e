import sys

from emcomm.cli import main

sys.exit(main())
