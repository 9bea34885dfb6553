"""`python -m rifebuild` is the same command line as the `rifebuild` console script."""
import sys

from rifebuild.cli import main

sys.exit(main())
