"""Print the resident memory of the processes given, in kB, counting each
physical page once however many of them map it: the memory the processes
hold together. VmRSS summed over processes counts a shared page (the
executable, shared memory) once per process; Pss shares it out, also with
processes outside the set. Needs root (page frame numbers); prints
"unknown" without.

    python3 bench/resident.py PID...
"""
import struct
import sys

PRESENT = 1 << 63
PFN = (1 << 55) - 1


def frames(pid):
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
        for line in maps:
            span, perms = line.split()[:2]
            if perms.startswith("---"):
                continue  # reserved, never resident
            lo, hi = (int(x, 16) for x in span.split("-"))
            pm.seek(lo // 4096 * 8)
            raw = pm.read((hi - lo) // 4096 * 8)
            for (e,) in struct.iter_unpack("<Q", raw):
                if e & PRESENT:
                    yield e & PFN


seen = set()
for pid in sys.argv[1:]:
    try:
        seen.update(frames(pid))
    except OSError:
        pass
if 0 in seen:  # frame numbers hidden: not root
    print("unknown")
else:
    print(len(seen) * 4)
