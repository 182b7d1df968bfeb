use clap::Parser;
use srp_scan::gate::{run, GateArgs};

fn main() {
    let args = GateArgs::parse();
    let (_, code) = run(&args);
    std::process::exit(code);
}
