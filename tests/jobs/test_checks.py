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


def test_bad_worker_pool_settings_are_errors(settings):
    settings.JOBS_WORKER_PROCESSES = 0
    settings.JOBS_WORKER_MAX_MEMORY_MB = "lots"
    errors = check_settings()
    assert [error.id for error in errors] == ["jobs.E003", "jobs.E003"]
    assert "JOBS_WORKER_PROCESSES is 0" in errors[0].msg and "JOBS_WORKER_MAX_MEMORY_MB" in errors[1].msg
    settings.JOBS_WORKER_PROCESSES = None
    settings.JOBS_WORKER_MAX_MEMORY_MB = 0
    assert check_settings() == []


def test_boards_without_a_read_permission_for_run_owners_is_a_warning(settings):
    del settings.BOARDS_READ_PERMISSION
    assert [warning.id for warning in check_settings()] == ["jobs.W001"]
