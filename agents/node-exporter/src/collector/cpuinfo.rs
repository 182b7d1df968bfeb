//! `--collector.cpu.info`: `node_cpu_info{…}` per processor from
//! /proc/cpuinfo, and the first processor's `flags` and `bugs` as
//! `node_cpu_flag_info{flag}` / `node_cpu_bug_info{bug}`, each filtered by
//! its include regex (no regex, no series, as upstream).

use crate::collector::FieldFilter;
use crate::exposition::{Exposition, MetricType::Gauge};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Processor {
    pub fields: std::collections::HashMap<String, String>,
}

impl Processor {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }
}

/// One entry per `processor` block (x86 layout; other keys are kept too).
pub fn parse(text: &str) -> Vec<Processor> {
    let mut out: Vec<Processor> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k == "processor" {
            out.push(Processor::default());
        }
        if let Some(p) = out.last_mut() {
            p.fields.insert(k.to_string(), v.to_string());
        }
    }
    out
}

pub fn write(
    out: &mut Exposition,
    cpus: &[Processor],
    flags: Option<&FieldFilter>,
    bugs: Option<&FieldFilter>,
) {
    if cpus.is_empty() {
        return;
    }
    let name = "node_cpu_info";
    out.family(name, "CPU information from /proc/cpuinfo.", Gauge);
    for p in cpus {
        out.sample(
            name,
            &[
                ("cachesize", p.get("cache size")),
                ("core", p.get("core id")),
                ("cpu", p.get("processor")),
                ("family", p.get("cpu family")),
                ("microcode", p.get("microcode")),
                ("model", p.get("model")),
                ("model_name", p.get("model name")),
                ("package", p.get("physical id")),
                ("stepping", p.get("stepping")),
                ("vendor", p.get("vendor_id")),
            ],
            1.0,
        );
    }
    for (filter, key, name, label) in [
        (flags, "flags", "node_cpu_flag_info", "flag"),
        (bugs, "bugs", "node_cpu_bug_info", "bug"),
    ] {
        let Some(filter) = filter else { continue };
        let wanted: Vec<&str> = cpus[0]
            .get(key)
            .split_whitespace()
            .filter(|f| filter.is_match(f))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        out.family(
            name,
            &format!("The `{key}` field of CPU information from /proc/cpuinfo taken from the first core."),
            Gauge,
        );
        for w in wanted {
            out.sample(name, &[(label, w)], 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn info_per_processor_and_filtered_flags() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 142\n\
            model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz\nstepping\t: 10\nmicrocode\t: 0xb4\n\
            cache size\t: 8192 KB\nphysical id\t: 0\ncore id\t\t: 1\n\
            flags\t\t: fpu aes avx avx2 avx512f constant_tsc\nbugs\t\t: cpu_meltdown spectre_v1 swapgs\n\n\
            processor\t: 1\nflags\t\t: none\n";
        let cpus = parse(text);
        assert_eq!(cpus.len(), 2);
        let mut out = Exposition::default();
        let flags = FieldFilter::new(Regex::new("^(aes|avx.?|constant_tsc)$").unwrap());
        write(&mut out, &cpus, Some(&flags), None);
        let t = out.into_string();
        assert!(t.contains("node_cpu_info{cachesize=\"8192 KB\",core=\"1\",cpu=\"0\",family=\"6\",microcode=\"0xb4\",model=\"142\",model_name=\"Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz\",package=\"0\",stepping=\"10\",vendor=\"GenuineIntel\"} 1\n"), "{t}");
        for f in ["aes", "avx", "avx2", "constant_tsc"] {
            assert!(
                t.contains(&format!("node_cpu_flag_info{{flag=\"{f}\"}} 1\n")),
                "{t}"
            );
        }
        assert!(!t.contains("avx512f") && !t.contains("bug_info"), "{t}");
    }
}
