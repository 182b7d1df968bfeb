// Placeholder so the workspace builds while this crate is written.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("srp-slack-relay is not implemented yet")
}
