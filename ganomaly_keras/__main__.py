"""`python -m ganomaly_keras` runs the `ganomaly-keras` command."""

import sys

from ganomaly_keras.cli.main import main

sys.exit(main())
