"""Job function of the raw rq peer of bench_jobs.py (imports nothing: a forked work horse imports it)."""


def noop():
    """Do nothing."""


def timed(ms, sent):
    """Work ``ms`` milliseconds (sleep); return how long the job waited between its enqueue and its start."""
    import time

    waited = time.time() - sent
    time.sleep(ms / 1000)
    return waited
