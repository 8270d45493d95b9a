"""The security pass (issue 8): one module per concern.

`manage.py check --deploy --fail-level WARNING` with the production settings of docs/operations.md is proven by
tests/site/test_limits.py::test_check_deploy_is_clean_with_the_documented_production_settings.
"""
