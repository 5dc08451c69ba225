"""Command-line entry points: `airlock` and the kubectl plugin `kubectl-airlock`."""
