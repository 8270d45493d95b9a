"""The catalog: dotted paths in JOBS_CATALOG, availability, permissions, misconfiguration."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobs.catalog import UnknownJob, catalog_specs, spec_get


def test_the_site_opts_into_the_demo_jobs():
    names = [spec.name for spec in catalog_specs()]
    assert names == ["countdown", "fail", "slow", "flaky", "noop", "runs_prune"]
    assert spec_get(name="slow").timeout == 2
    assert spec_get(name="flaky").retries == 3


def test_a_hosts_catalog_has_no_demo_job_unless_it_opts_in(settings):
    from jobs.conf import DEFAULTS

    assert DEFAULTS["JOBS_DEMO_JOBS"] is False
    settings.JOBS_DEMO_JOBS = False
    assert [spec.name for spec in catalog_specs()] == ["runs_prune"]
    for name in ("countdown", "fail", "slow", "flaky", "noop"):
        with pytest.raises(UnknownJob):
            spec_get(name=name)


def test_unknown_job_raises(settings):
    with pytest.raises(UnknownJob, match="No job named 'nope'"):
        spec_get(name="nope")


def test_catalog_setting_is_read_when_used(settings):
    settings.JOBS_DEMO_JOBS = False
    settings.JOBS_CATALOG = ["jobs.builtin.NOOP"]
    assert [spec.name for spec in catalog_specs()] == ["noop"]


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (["jobs.builtin.MISSING"], "cannot be imported"),
        (["jobs.builtin.noop"], "is not a jobs.catalog.JobSpec"),
        (["jobs.builtin.NOOP", "jobs.builtin.NOOP"], "two jobs named"),
    ],
)
def test_bad_catalog_is_improperly_configured(settings, paths, message):
    settings.JOBS_DEMO_JOBS = False
    settings.JOBS_CATALOG = paths
    with pytest.raises(ImproperlyConfigured, match=message):
        catalog_specs()


@pytest.mark.django_db
def test_staff_only_jobs(user, staff_user):
    spec = spec_get(name="runs_prune")
    assert not spec.allowed(user) and spec.allowed(staff_user)
    assert spec_get(name="countdown").allowed(user)
