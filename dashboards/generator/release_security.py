"""Release Security (srp-release-security): what the security gates decided."""

from .grafana import dashboard, rate, row, sel, stat, table, timeseries, value_mapping

GATE = value_mapping([(0, "Blocked", "red"), (1, "Passed", "green")])


def build() -> dict:
    panels = [
        row("Gates"),
        stat("Blocked gates", "Pipelines whose latest security gate blocked (srp_scan_gate_passed = 0). SecurityScanFailed fires for each.",
             "short", [(f"sum(1 - {sel('srp_scan_gate_passed')})", "blocked")], h=5, thresholds=[(1, "red")]),
        stat("Waivers expiring", "Waivers (ignore-file entries) that expire soon, over all targets: renew or fix them before they start blocking.",
             "short", [(f"sum({sel('srp_scan_waivers_expiring')})", "expiring")], h=5, thresholds=[(1, "orange")]),
        table("Latest gate per pipeline", "The latest gate result per pipeline and target: Passed or Blocked.",
              sel("srp_scan_gate_passed"), exclude=("Time", "__name__", "job"), rename={"Value": "Gate"}, mappings=GATE),
        row("Findings"),
        timeseries("Findings by severity", "Findings in the latest report of each scanner and target, by severity.", "short",
                   [(f"sum by (severity) ({sel('srp_scan_findings')})", "{{severity}}")], stack=True),
        timeseries("Findings by scanner and class", "Findings in the latest reports by scanner (trivy, gitleaks, ...) and class (vulnerability, secret, misconfiguration, ...).",
                   "short", [(f"sum by (scanner, class) ({sel('srp_scan_findings')})", "{{scanner}} {{class}}")]),
        timeseries("Gate results over time", "Per pipeline and target: 1 while the latest gate passed, 0 while it blocked.", "none",
                   [(sel("srp_scan_gate_passed"), "{{pipeline}} {{target}}")], max_value=1),
        timeseries("Time since last scan", "Age of the latest report per scanner and target; a stale scan means the pipeline stopped reporting (ScanReportStale fires after 2 days).",
                   "s", [(f"time() - max by (scanner, target) ({sel('srp_scan_last_timestamp_seconds')})", "{{scanner}} {{target}}")]),
        row("Supply chain"),
        timeseries("SBOM components", "Components in the latest CycloneDX SBOM per target and component type.", "short",
                   [(f"sum by (target, type) ({sel('srp_scan_sbom_components')})", "{{target}} {{type}}")]),
        timeseries("Waivers expiring by target", "Waivers that expire soon, per target.", "short",
                   [(f"sum by (target) ({sel('srp_scan_waivers_expiring')})", "{{target}}")]),
        timeseries("Report ingest errors", "Scan reports the exporter rejected, per second by reason; 0 when none were rejected.", "short",
                   [(f"sum by (reason) ({rate('srp_scan_ingest_errors_total')}) or vector(0)", "{{reason}}")], w=24, h=6),
    ]
    return dashboard(
        "srp-release-security", "Release Security",
        "What the pipeline's security gates decided and why: gate results, findings over time by severity, SBOM size, waivers about to expire (from srp-scan-exporter).",
        "srp_scan_gate_passed", panels)
