"""Prometheus metrics of the HTTP layer, on the default registry.

Using the default registry means metrics other modules register (job runs,
email sends …) are exported by the same ``/metrics`` endpoint.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

HTTP_REQUEST_DURATION = Histogram(
    "tutorpulse_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_UNHANDLED_ERRORS = Counter(
    "tutorpulse_http_unhandled_errors_total",
    "Requests that ended in an unexpected server error (500).",
    ("method", "route"),
)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUEST_DURATION.labels(method=method, route=route, status=str(status)).observe(seconds)
    if status >= 500:
        HTTP_UNHANDLED_ERRORS.labels(method=method, route=route).inc()


def render_metrics() -> tuple[bytes, str]:
    """The exposition text of every registered metric and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
