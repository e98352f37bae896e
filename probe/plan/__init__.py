"""Plan stage: profile -> variants -> the exact bytes of each test message; the threshold search.

Pure: a profile file is read at the edge (`plan.profile_files.load_profile`), everything else takes
data and returns data, deterministically (a run need not store the bytes it sent to re-craft them).
"""
