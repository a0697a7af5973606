"""gunicorn configuration for running leanplan with gunicorn's own command line:

    gunicorn -c deploy/gunicorn.conf.py            # from a checkout with leanplan installed
    gunicorn -c deploy/gunicorn.conf.py -b 0.0.0.0:8000

Its settings all come from web.gunicorn_settings, which `leanplan serve` (the container's
command) uses too, so both run with the same workers (WEB_CONCURRENCY), timeouts, proxy trust
(FORWARDED_ALLOW_IPS) and logging. What `leanplan serve` does around gunicorn is done here by
hooks: the workers' shared metrics folder (web.shared_metrics) is made before the first worker
starts and removed when gunicorn exits. Unlike `leanplan serve`, plain gunicorn does not make a
LEANPLAN_SECRET_KEY up for all its workers when none is set: set one.
"""

import os
from contextlib import ExitStack

from web.gunicorn_settings import gunicorn_options
from web.shared_metrics import shared_metrics

wsgi_app = "web:create_app()"

# gunicorn reads every module-level name that is one of its settings.
globals().update(gunicorn_options(os.environ))

_around_server = ExitStack()


def on_starting(server: object) -> None:
    _around_server.enter_context(shared_metrics())


def on_exit(server: object) -> None:
    _around_server.close()
