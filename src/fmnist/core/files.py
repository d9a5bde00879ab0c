"""Files written atomically: a reader sees the old file or the new one, never a part of one."""

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def write_atomically(path):
    """Yield a binary file beside `path`; when the block ends it replaces `path` in one step (`os.replace`), and
    when the block fails it is removed and `path` stays as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)  # as a plain open() would create it, not the temporary's 0600
        os.replace(handle.name, path)
    finally:
        Path(handle.name).unlink(missing_ok=True)
