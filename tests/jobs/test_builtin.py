"""Built-in job functions, called directly (the worker tests run them through real workers)."""

import pytest

from jobs import builtin


def resolver_for_tests(*, up_to=None):
    return {"resolved_up_to": up_to}


def test_ledger_resolve_imports_its_resolver_when_it_runs(settings):
    settings.JOBS_LEDGER_RESOLVER = "tests.jobs.test_builtin.resolver_for_tests"
    assert builtin.ledger_resolve(up_to=5) == {"resolved_up_to": 5}
    settings.JOBS_LEDGER_RESOLVER = "nowhere.resolve"
    with pytest.raises(ImportError):
        builtin.ledger_resolve()


def test_flaky_and_fail_outside_a_worker():
    with pytest.raises(RuntimeError, match="boom"):
        builtin.fail(message="boom")
    assert builtin.flaky(failures=0) == "succeeded on attempt 1"
    assert builtin.countdown(steps=2, delay=0) == {"steps": 2}
