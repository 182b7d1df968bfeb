// Placeholder so the workspace builds while this crate is written.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("srp-scan-exporter is not implemented yet")
}
