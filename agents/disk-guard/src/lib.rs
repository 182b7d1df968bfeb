//! srp-disk-guard: watches mount points, predicts when they fill up, cleans
//! them by written policies (Docker, Jenkins, files) without ever leaving the
//! allowed roots, journals every deletion, and escalates when cleaning is not
//! enough. See the README for the configuration and the safety model.

pub mod block_device;
pub mod cleanup;
pub mod config;
pub mod daemon;
pub mod docker_client;
pub mod drain;
pub mod ec2;
pub mod escalate;
pub mod escape;
pub mod fs_usage;
pub mod grow;
pub mod guard;
pub mod imds;
pub mod in_use;
pub mod jenkins_api;
pub mod journal;
pub mod metrics;
pub mod mount_id;
pub mod policy;
pub mod safe_fs;
pub mod sigv4;
pub mod skip;
pub mod trend;
