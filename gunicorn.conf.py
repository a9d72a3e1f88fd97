"""gunicorn settings for production: `gunicorn tracker.wsgi` reads this file from the
working directory (or pass `-c gunicorn.conf.py`). Every value can be set by environment,
see docs/operations.md.

Sync workers: each request holds one process, so the worker count bounds concurrency and
the timeouts below bound how long a stuck request holds one.
"""

import multiprocessing
import os


def _workers() -> int:
    # gunicorn's rule of thumb, 2 x cores + 1, capped: past a dozen processes per machine the
    # database connections cost more than the extra concurrency brings (scale out instead).
    default = min(2 * multiprocessing.cpu_count() + 1, 12)
    return int(os.environ.get("WEB_CONCURRENCY", default))


bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]  # noqa: S104
workers = _workers()
# A request still running after this many seconds is killed with its worker (gunicorn logs
# it and starts another): no page or API call here needs more than a few seconds.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (a deploy), requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Behind a proxy that reuses connections; shorter than the proxy's own idle timeout.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle a worker now and then, so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10

# X-Forwarded-For / -Proto are believed only from these addresses: the proxy in front.
# Pair with DJANGO_TRUST_X_FORWARDED_PROTO=1 on the Django side.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# A longer request line (a long query string) is answered 414 by gunicorn itself, as HTML,
# before the app sees it; the OpenAPI schema documents that (commitments.api.schema).
limit_request_line = 4094

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# The request id the app returned (X-Request-ID) ties an access line to the app's log lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn): two instances
# on a machine would fight over it, and nothing here uses it.
control_socket_disable = True
