//! Families gathered across many source files and written once each: the
//! exposition needs a family's samples together, while sources like ZFS's
//! per-pool kstats or per-CPU lnstat rows list them file by file.

use crate::exposition::{Exposition, MetricType};
use std::collections::BTreeMap;

type Sample = (Vec<(&'static str, String)>, f64);

#[derive(Default)]
pub struct Families {
    map: BTreeMap<String, (String, MetricType, Vec<Sample>)>,
}

impl Families {
    /// One sample of family `name`; the first call for a name fixes its help
    /// and type. Label names must be given in sorted order (as client_golang
    /// writes them).
    pub fn add(
        &mut self,
        name: String,
        help: impl Into<String>,
        kind: MetricType,
        labels: Vec<(&'static str, String)>,
        v: f64,
    ) {
        self.map
            .entry(name)
            .or_insert_with(|| (help.into(), kind, Vec::new()))
            .2
            .push((labels, v));
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Write every family; a name Prometheus would reject (built from file
    /// contents) is skipped, since it would make the whole scrape fail.
    pub fn write(self, out: &mut Exposition) {
        for (name, (help, kind, samples)) in self.map {
            if !crate::exposition::is_valid_metric_name(&name) {
                continue;
            }
            out.family(&name, &help, kind);
            for (labels, v) in &samples {
                let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                out.sample(&name, &l, *v);
            }
        }
    }
}
