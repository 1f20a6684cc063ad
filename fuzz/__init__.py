"""Fuzz targets (h11 style, STYLE P12): one module per invariant, each with ``test_one_input(data: bytes)``.

Run one under atheris with ``python -m fuzz.<target> [libFuzzer args]``; the committed seed corpora in
``fuzz/corpus/<target>/`` are replayed by pytest, so the targets keep working without atheris.
"""
