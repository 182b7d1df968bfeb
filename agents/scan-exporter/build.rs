//! Bakes the git commit and the CI build number into both binaries for
//! `srp_build_info` (see srp-daemon's build_support.rs).

include!("../daemon/build_support.rs");

fn main() {
    emit_build_env();
}
