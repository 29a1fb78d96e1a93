"""Backups: the archive format (archive.py, its public API), the database dumps
(database.py), age encryption (age.py) and the services that run, list and clean them."""
