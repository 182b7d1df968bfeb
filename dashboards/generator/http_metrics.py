"""HTTP Metrics (srp-http-metrics): the API's traffic, errors and latency."""

from .grafana import dashboard, rate, row, sel, stat, timeseries, value_mapping

REQUESTS = "http_requests_total"
BUCKETS = "http_request_duration_seconds_bucket"
FIVE_XX = 'status=~"5.."'


def error_ratio(by: str = "") -> str:
    """5xx share; `or 0 * total` makes it 0, not empty, when there were no 5xx."""
    s = f"sum by ({by}) " if by else "sum"
    errors = f"{s}({rate(REQUESTS, FIVE_XX)})"
    total = f"{s}({rate(REQUESTS)})"
    return f"({errors} or 0 * {total}) / {total}"


def latency(q: float, by: str) -> str:
    return f"histogram_quantile({q:g}, sum by ({by}) ({rate(BUCKETS)}))"


def build() -> dict:
    panels = [
        row("Overview"),
        stat("Request rate", "Requests per second over all routes and selected instances.", "reqps",
             [(f"sum({rate(REQUESTS)})", "requests/s")], w=5),
        stat("Error ratio", "Share of responses with a 5xx status over all routes. 0 when there were no errors; empty when there was no traffic.",
             "percentunit", [(error_ratio(), "5xx ratio")], w=5, thresholds=[(0.01, "orange"), (0.05, "red")]),
        stat("p95 latency", "95th percentile of request duration over all routes (from the http_request_duration_seconds histogram). HighAPILatency fires above 1 s.",
             "s", [(latency(0.95, "le"), "p95")], w=5, thresholds=[(0.5, "orange"), (1, "red")]),
        stat("Requests in flight", "Requests being served right now, over the selected instances.", "short",
             [(f"sum({sel('http_requests_in_flight')})", "in flight")], w=4),
        stat("Database", "Whether the API reaches its database (srp_api_db_up; the lowest over the selected instances). PostgreSQLDown fires when it is down for 1 minute.",
             "none", [(f"min({sel('srp_api_db_up')})", "database")], w=5,
             mappings=value_mapping([(0, "DOWN", "red"), (1, "UP", "green")])),
        row("Traffic"),
        timeseries("Request rate by route", "Requests per second per route template (method and status summed).", "reqps",
                   [(f"sum by (route) ({rate(REQUESTS)})", "{{route}}")]),
        timeseries("Responses by status code", "Responses per second per HTTP status code, stacked.", "reqps",
                   [(f"sum by (status) ({rate(REQUESTS)})", "{{status}}")], stack=True),
        timeseries("Error ratio by route", "Share of 5xx responses per route; 0 when a route had traffic and no errors.", "percentunit",
                   [(error_ratio("route"), "{{route}}")], max_value=1),
        timeseries("Requests in flight", "Requests being served at scrape time, per instance.", "short",
                   [(f"sum by (instance) ({sel('http_requests_in_flight')})", "{{instance}}")]),
        row("Latency"),
        timeseries("Latency p50 by route", "Median request duration per route template.", "s",
                   [(latency(0.5, "le, route"), "p50 {{route}}")], w=8),
        timeseries("Latency p95 by route", "95th percentile of request duration per route template. HighAPILatency fires when the p95 over all routes of an instance is above 1 s for 5 minutes.",
                   "s", [(latency(0.95, "le, route"), "p95 {{route}}")], w=8),
        timeseries("Latency p99 by route", "99th percentile of request duration per route template.", "s",
                   [(latency(0.99, "le, route"), "p99 {{route}}")], w=8),
    ]
    return dashboard(
        "srp-http-metrics", "HTTP Metrics",
        "The SRP API's traffic: request rate, error ratio, latency by route, requests in flight and status codes (metrics http_requests_total, http_request_duration_seconds, http_requests_in_flight, srp_api_db_up).",
        "http_requests_total", panels)
