// Placeholder so the workspace builds while this crate is written.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("srp-node-exporter is not implemented yet")
}
