//! Cleanup policies. Each runs against one [`Pass`](crate::cleanup::Pass)
//! and stops selecting work as soon as the pass says the target is reached.

pub mod docker;
pub mod files;
pub mod jenkins;

use crate::cleanup::{Pass, PolicyError};
use crate::config::PolicyConfig;

pub fn run(name: &str, cfg: &PolicyConfig, pass: &mut Pass) -> Result<(), PolicyError> {
    match cfg {
        PolicyConfig::Files(f) => files::run(name, f, pass),
        PolicyConfig::Jenkins(j) => jenkins::run(name, j, pass),
        PolicyConfig::Docker(d) => docker::run(name, d, pass),
    }
}
