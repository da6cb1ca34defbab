"""The `ganomaly-keras` command line: `parser` (its options and checks) and
`commands` (what each command does)."""
