"""Writing a file people keep (an export, a report) so that it is never left half-written: the
text goes to a temporary file in the target's folder, which replaces the target only once it
is complete and on disk. Until then the previous file stays as it was; on any error the
temporary file is removed. (A process killed with SIGKILL may leave its temporary file,
`.NAME.*.partial`, beside the target; the target itself is intact.)"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _mode_for(target: Path) -> int:
    """The new file's permissions: the old file's, else what `open()` would give."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def replaced_when_complete(target: Path) -> Iterator[IO[str]]:
    """A text handle (UTF-8, no newline translation) whose content becomes `target` when the
    block ends without an error."""
    target = Path(target)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
            "w",
            encoding="utf-8",
            newline="",
            dir=target.parent,
            prefix=f".{target.name}.",
            suffix=".partial",
            delete=False,
        )
    except OSError as exc:  # name the file the user asked for, not our temporary one
        raise type(exc)(exc.errno, exc.strerror, str(target)) from None
    partial = Path(handle.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        partial.chmod(_mode_for(target))
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
