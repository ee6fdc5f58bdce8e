//! `facemark kaggle` (being built).

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`facemark kaggle` is not built yet")
}
