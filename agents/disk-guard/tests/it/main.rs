//! Integration tests for srp-disk-guard: one test binary, one module per concern.

mod adversarial;
mod daemon;
mod docker;
mod jenkins;
mod support;
mod tmpfs;
