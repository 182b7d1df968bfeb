//! `node_sockstat_<PROTO>_<state>` from /proc/net/sockstat and sockstat6,
//! with `_mem_bytes` (pages × page size) beside every `mem`, as upstream.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{is_valid_metric_name, Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

pub fn parse(
    path: &Path,
    text: &str,
    page: f64,
    out: &mut Vec<(String, f64)>,
) -> Result<(), CollectError> {
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() % 2 != 0 {
            return Err(CollectError::parse(
                path,
                format!("{proto}: odd field count"),
            ));
        }
        for kv in f.chunks(2) {
            let v: f64 = num(path, kv[1])?;
            if proto == "sockets" {
                out.push(("sockets_used".into(), v));
                continue;
            }
            out.push((format!("{proto}_{}", kv[0]), v));
            if kv[0] == "mem" {
                out.push((format!("{proto}_mem_bytes"), v * page));
            }
        }
    }
    Ok(())
}

pub struct Sockstat {
    v4: PathBuf,
    v6: PathBuf,
}

impl Sockstat {
    pub fn new(paths: &Paths) -> Self {
        Self {
            v4: paths.proc("net/sockstat"),
            v6: paths.proc("net/sockstat6"),
        }
    }
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) as f64
}

impl Collector for Sockstat {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let page = page_size();
        let mut all = Vec::with_capacity(32);
        parse(&self.v4, &read(&self.v4)?, page, &mut all)?;
        // Without IPv6 there is no sockstat6; not an error upstream either.
        if let Ok(t) = super::read_file(&self.v6) {
            parse(&self.v6, &t, page, &mut all)?;
        }
        let mut name = String::with_capacity(48);
        let mut help = String::with_capacity(64);
        for (key, v) in all {
            name.clear();
            name.push_str("node_sockstat_");
            name.push_str(&key);
            if !is_valid_metric_name(&name) {
                continue;
            }
            help.clear();
            if key == "sockets_used" {
                help.push_str("Number of IPv4 sockets in use.");
            } else {
                let (proto, state) = key.split_once('_').unwrap_or((&key, ""));
                help.push_str("Number of ");
                help.push_str(proto);
                help.push_str(" sockets in state ");
                help.push_str(state);
                help.push('.');
            }
            out.family(&name, &help, Gauge);
            out.sample(&name, &[], v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn states_and_mem_bytes() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/net/sockstat", "sockets: used 35\nTCP: inuse 12 orphan 0 tw 2 alloc 15 mem 315\nUDP: inuse 0 mem 0\nFRAG: inuse 0 memory 0\n"),
                ("proc/net/sockstat6", "TCP6: inuse 2\nFRAG6: inuse 0 memory 0\n"),
            ],
        );
        let t = render(&Sockstat::new(&p));
        assert!(t.contains("# HELP node_sockstat_sockets_used Number of IPv4 sockets in use.\n# TYPE node_sockstat_sockets_used gauge\nnode_sockstat_sockets_used 35\n"), "{t}");
        assert!(
            t.contains(
                "# HELP node_sockstat_TCP_mem_bytes Number of TCP sockets in state mem_bytes.\n"
            ),
            "{t}"
        );
        assert!(
            t.contains(&format!("node_sockstat_TCP_mem_bytes {}\n", {
                let mut v = String::new();
                crate::exposition::push_value(&mut v, 315.0 * page_size());
                v
            })),
            "{t}"
        );
        assert!(t.contains("node_sockstat_TCP_tw 2\n"), "{t}");
        assert!(t.contains("node_sockstat_TCP6_inuse 2\n"), "{t}");
        assert!(t.contains("node_sockstat_FRAG6_memory 0\n"), "{t}");
        assert!(t.contains("node_sockstat_UDP_mem_bytes 0\n"), "{t}");
    }
}
