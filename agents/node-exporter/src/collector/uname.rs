//! `node_uname_info` from the uname(2) system call.

use super::{CollectError, Collector};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::ffi::CStr;

pub struct Uname;

fn field(raw: &[libc::c_char]) -> String {
    // SAFETY: uname(2) NUL-terminates every field within its array.
    unsafe { CStr::from_ptr(raw.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl Collector for Uname {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // SAFETY: utsname is plain old data; uname fills it completely on success.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut u) } != 0 {
            return Err(CollectError::Io {
                path: "uname(2)".into(),
                source: std::io::Error::last_os_error(),
            });
        }
        let name = "node_uname_info";
        out.family(
            name,
            "Labeled system information as provided by the uname system call.",
            Gauge,
        );
        out.sample(
            name,
            &[
                ("domainname", &field(&u.domainname)),
                ("machine", &field(&u.machine)),
                ("nodename", &field(&u.nodename)),
                ("release", &field(&u.release)),
                ("sysname", &field(&u.sysname)),
                ("version", &field(&u.version)),
            ],
            1.0,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    #[test]
    fn reports_linux() {
        let t = render(&Uname);
        assert!(t.contains("sysname=\"Linux\""), "{t}");
        assert!(t.ends_with("} 1\n"), "{t}");
    }
}
