"""Exports of one patient's records (issue 16): scopes from the record registry (scopes.py),
the job that counts and reads the rows (job.py), the CSV, JSON and PDF writers, zip bundles
(bundle.py), metric units (units.py), attached files through a signal the files app answers
(attachments.py), and the downloads the API sends (service.py)."""
