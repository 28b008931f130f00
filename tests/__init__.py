import pytest

# Before any test imports it: the shared assertions report compared values as test code does.
pytest.register_assert_rewrite("tests.assertions")
