"""The `ganomaly-keras` command line: `main` (the entry point), `parser` (its
options and checks), `common` (what the commands share) and one module per
command (`train`, `evaluate`, `export`, `predict`, `benchmark`), each with a
`run(args)`."""
