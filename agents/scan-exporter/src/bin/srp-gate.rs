//! srp-gate: exit 0 pass, 1 block, 2 error. Every failure is printed by
//! `gate::run` as `error: …` and ends in 2 (fails closed); a usage error is
//! clap's exit 2, the same "error".

use clap::Parser;
use srp_scan::gate::{run, GateArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = GateArgs::parse();
    let (_, code) = run(&args);
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}
