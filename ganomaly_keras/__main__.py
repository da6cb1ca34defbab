"""`python -m ganomaly_keras` runs the `ganomaly-keras` command."""

import sys

from ganomaly_keras.cli.commands import main

sys.exit(main())
