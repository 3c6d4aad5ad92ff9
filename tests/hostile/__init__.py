"""Hostile images: a corpus of malicious inputs, the oracle every run must pass, and fuzzing.

`builders` writes the bytes (layer tars, outer archives, bombs, damaged streams, SQLite files)
with full control over names, sizes, link types and digests; `corpus` turns them into cases
that each state their expected result; `oracle` runs layerscan in a bounded fresh process in a
sandbox beside a victim directory and checks what every run must respect.
"""
