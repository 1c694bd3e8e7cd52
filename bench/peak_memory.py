"""The peak memory of this process, for benchmarks that measure an operation in a child."""

from __future__ import annotations

import resource


def peak_mb() -> float:
    """This process's own high-water RSS in MB (VmHWM in /proc/self/status).

    ``getrusage``'s ``ru_maxrss`` of a spawned child on Linux also counts the parent it was
    forked from (the maximum survives ``exec``), and a benchmark's parent holds the data it
    generated; VmHWM belongs to the memory of the program now running.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def children_peak_mb() -> float:
    """The largest high-water RSS in MB of the child processes this process has waited for
    (``getrusage(RUSAGE_CHILDREN)``): a restore into SQLite forks one to make rows ready. A
    forked child shares its parent's pages until either writes them, and both RSS figures
    count those pages, so the sum of the two overstates what the pair takes."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
