from pathlib import Path


def stored_files(root: Path) -> list[str]:
    """Every file under the filesystem backend's MEDIA_ROOT, relative to it."""
    if not root.exists():
        return []
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
