"""Search across every record type: one index table (SearchEntry) kept in step with the
records (index.py), the database's own text search over it (backends.py), the one query
under both response forms (query.py), and records shown as their own API shows them
(items.py)."""
