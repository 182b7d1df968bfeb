//! Integration tests for srp-disk-guard: one test binary, one module per concern.

mod adversarial;
mod bind_mount;
mod build_aware;
mod daemon;
mod docker;
mod drain;
mod grow;
mod jenkins;
mod lru;
mod mock_jenkins;
mod names;
mod real_relay;
mod support;
mod tmpfs;
