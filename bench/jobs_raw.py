"""Job function of the raw rq peer of bench_jobs.py (imports nothing: a forked work horse imports it)."""


def noop():
    """Do nothing."""
