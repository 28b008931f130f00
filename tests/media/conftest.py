import pytest


@pytest.fixture(autouse=True)
def _media_settings(settings, tmp_path):
    """Each test stores files in its own directory on the filesystem backend."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_URL = "/media/"
    settings.STORAGE_BACKEND = "filesystem"
    return settings
