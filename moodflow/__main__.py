import sys

from moodflow.cli import main

sys.exit(main())
