//! Cleanup policies. The Docker policy runs against one
//! [`Pass`](crate::cleanup::Pass) and stops as soon as the pass says the
//! target is reached; the files and Jenkins policies only select
//! [`Candidate`]s, which the pass takes least recently used first across
//! all of them.

pub mod docker;
pub mod files;
pub mod jenkins;

use crate::cleanup::{Candidate, Pass, PolicyError};
use crate::config::PolicyConfig;

/// What a policy contributes to a pass.
pub enum Selected {
    /// It ran itself (Docker: the engine decides what a removal frees).
    Ran,
    Candidates(Vec<Candidate>),
}

pub fn run(name: &str, cfg: &PolicyConfig, pass: &mut Pass) -> Result<Selected, PolicyError> {
    match cfg {
        PolicyConfig::Files(f) => files::select(name, f, pass).map(Selected::Candidates),
        PolicyConfig::Jenkins(j) => jenkins::select(name, j, pass).map(Selected::Candidates),
        PolicyConfig::Docker(d) => docker::run(name, d, pass).map(|()| Selected::Ran),
    }
}
