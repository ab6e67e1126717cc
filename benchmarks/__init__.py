"""`make bench`: replywatch measured beside a naive baseline, one table. Run from the repository root as
`python -m benchmarks` (`--quick`, `--only ROW`, `--backend sqlite|postgresql`, `--replicas`); see cli.py."""
