"""The wiring around the pure core: the command line (`python -m bot ...`), the deps object the
web app and the worker share, logging, the local run with embedded servers, the CSV importer.

These modules do I/O (database, Redis, HTTP, files, the environment, processes); the rest of
`bot/` decides purely and imports none of them (`tests/test_purity.py`).
"""
