"""Tests of the grading engine (cnn_course.autograde).

A package, so that its conftest is ``autograde.conftest`` and never shadows
``tests/conftest.py`` (both would otherwise import as ``conftest``).
"""
