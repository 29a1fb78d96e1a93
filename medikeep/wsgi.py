import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")
application = get_wsgi_application()

# The objects loaded at start (modules, URL patterns, serializer templates) live as long as
# the process: moved out of the collector's sight, they are not traversed again on every
# full collection. A request allocates thousands of short-lived objects (rows, dicts); a
# higher first threshold lets most die by reference count before a collection runs, which
# cut the list's worst latencies (docs/benchmarks.md).
gc.collect()
gc.freeze()
gc.set_threshold(20_000, 20, 20)
