"""records/api/lab_links.py serves links only (no record type): their shared cases
(list, link, twice, other patient, access, cascade, query count) are parametrised over every
lab-result link in records/tests/test_links_labs.py."""

CASES: list = []
