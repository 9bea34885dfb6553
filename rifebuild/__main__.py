import sys

from rifebuild.cli import main

sys.exit(main())
