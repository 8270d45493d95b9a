"""Built-in job functions, called directly (the worker tests run them through real workers)."""

import pytest

from jobs import builtin


def test_flaky_and_fail_outside_a_worker():
    with pytest.raises(RuntimeError, match="boom"):
        builtin.fail(message="boom")
    assert builtin.flaky(failures=0) == "succeeded on attempt 1"
    assert builtin.countdown(steps=2, delay=0) == {"steps": 2}
