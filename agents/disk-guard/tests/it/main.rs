//! Integration tests for srp-disk-guard: one test binary, one module per concern.

mod adversarial;
mod bind_mount;
mod daemon;
mod docker;
mod jenkins;
mod names;
mod support;
mod tmpfs;
