//! `node_interrupts_total{cpu,type,info,devices}` from /proc/interrupts,
//! one series per interrupt line and CPU, parsed as upstream parses it
//! (numbered IRQs: first word after the counts is `info`, the rest
//! `devices`; named ones: all of it is `info`; `ERR`/`MIS` are skipped).

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq)]
pub struct Interrupt {
    pub name: String,
    pub info: String,
    pub devices: String,
    pub values: Vec<f64>,
}

pub fn parse(path: &Path, text: &str) -> Result<Vec<Interrupt>, CollectError> {
    let mut lines = text.lines();
    let cpus = lines
        .next()
        .ok_or_else(|| CollectError::parse(path, "empty"))?
        .split_whitespace()
        .count();
    let mut out = Vec::new();
    for line in lines {
        // aarch64 may put no space between the name and the counts.
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let parts: Vec<&str> = rest.split_whitespace().collect();
        if parts.len() < cpus + 1 {
            continue;
        }
        let name = name.trim_start().to_string();
        let (info, devices) = if name.parse::<i64>().is_ok() {
            (parts[cpus].to_string(), parts[cpus + 1..].join(" "))
        } else {
            (parts[cpus..].join(" "), String::new())
        };
        let values = parts[..cpus]
            .iter()
            .map(|v| num(path, v))
            .collect::<Result<Vec<f64>, _>>()?;
        out.push(Interrupt {
            name,
            info,
            devices,
            values,
        });
    }
    Ok(out)
}

pub struct Interrupts {
    path: PathBuf,
}

impl Interrupts {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("interrupts"),
        }
    }
}

impl Collector for Interrupts {
    fn name(&self) -> &'static str {
        "interrupts"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let irqs = parse(&self.path, &read(&self.path)?)?;
        let name = "node_interrupts_total";
        out.family(name, "Interrupt details.", Counter);
        let mut cpu = String::new();
        for irq in &irqs {
            for (i, v) in irq.values.iter().enumerate() {
                cpu.clear();
                cpu.push_str(&i.to_string());
                out.sample(
                    name,
                    &[
                        ("cpu", &cpu),
                        ("devices", &irq.devices),
                        ("info", &irq.info),
                        ("type", &irq.name),
                    ],
                    *v,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_named_lines() {
        let text = "           CPU0       CPU1       \n\
              0:         18          0  IR-IO-APIC-edge      timer\n\
             16:          0          0  IR-IO-APIC  16-fasteoi   ehci_hcd:usb1, uhci_hcd:usb2\n\
            NMI:         47         57   Non-maskable interrupts\n\
            ERR:          0\n";
        let irqs = parse(Path::new("interrupts"), text).unwrap();
        assert_eq!(irqs.len(), 3);
        assert_eq!(irqs[0].info, "IR-IO-APIC-edge");
        assert_eq!(irqs[0].devices, "timer");
        assert_eq!(irqs[1].devices, "16-fasteoi ehci_hcd:usb1, uhci_hcd:usb2");
        assert_eq!(irqs[2].info, "Non-maskable interrupts");
        assert_eq!(irqs[2].devices, "");
        assert_eq!(irqs[2].values, vec![47.0, 57.0]);
    }
}
