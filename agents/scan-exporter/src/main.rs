fn main() -> anyhow::Result<()> {
    anyhow::bail!("srp-scan-exporter is being written")
}
