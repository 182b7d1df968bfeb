"""SRP's Grafana dashboards, written once as code (see dashboards/README.md)."""
