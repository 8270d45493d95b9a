"""System checks of the jobs app."""

from jobs.checks import check_settings


def test_default_settings_pass():
    assert check_settings() == []


def test_missing_queue_and_bad_catalog_are_errors(settings):
    settings.RQ_QUEUES = {"default": settings.RQ_QUEUES["default"]}
    ids = {error.id for error in check_settings()}
    assert ids == {"jobs.E002"}
    settings.JOBS_CATALOG = ["nowhere.SPEC"]
    assert [error.id for error in check_settings()] == ["jobs.E001"]
