"""The build's child processes (store loaders, dump writer, DL check, HermiT's JVM) end when their parent does."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded once here: a child calls it between fork and exec (subprocess's preexec_fn), where loading a library is unsafe.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def end_with_parent(parent_pid: int) -> None:
    """Called first in a child of `parent_pid`: the kernel sends it SIGKILL when that parent ends, however it
    ends (a SIGKILLed `migkg build` left its loader and HermiT's JVM running until they were done, holding
    memory and the build's files). The setting survives exec, so a child that replaces itself keeps it.
    Elsewhere than Linux nothing is set."""
    if _LIBC is not None and _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent ended before the setting took: nobody would wait for this child
        os._exit(1)
