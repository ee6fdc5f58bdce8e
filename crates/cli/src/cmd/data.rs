//! `facemark data` (being built).

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Counts, point count, missing values, image sizes, identities.
    Inspect {},
}

pub fn run(_cmd: DataCommand) -> anyhow::Result<()> {
    anyhow::bail!("`facemark data` is not built yet")
}
