//! `node_timex_*`: the kernel's clock discipline state from adjtimex(2),
//! scaled as node_exporter does.

use super::{CollectError, Collector};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};

const TIME_ERROR: i32 = 5;
const STA_NANO: i32 = 0x2000;
const MICRO: f64 = 1e6;
const NANO: f64 = 1e9;
/// Frequencies are in ppm with a 16-bit fraction.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

pub struct Timex;

impl Collector for Timex {
    fn name(&self) -> &'static str {
        "timex"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // SAFETY: modes = 0 only reads; the struct is plain old data.
        let mut t: libc::timex = unsafe { std::mem::zeroed() };
        let state = unsafe { libc::adjtimex(&mut t) };
        if state < 0 {
            return Err(CollectError::Io {
                path: "adjtimex(2)".into(),
                source: std::io::Error::last_os_error(),
            });
        }
        let div = if t.status & STA_NANO != 0 {
            NANO
        } else {
            MICRO
        };
        let sync = if state == TIME_ERROR { 0.0 } else { 1.0 };
        let g = [
            (
                "node_timex_estimated_error_seconds",
                "Estimated error in seconds.",
                t.esterror as f64 / MICRO,
            ),
            (
                "node_timex_frequency_adjustment_ratio",
                "Local clock frequency adjustment.",
                1.0 + t.freq as f64 / PPM16FRAC,
            ),
            (
                "node_timex_loop_time_constant",
                "Phase-locked loop time constant.",
                t.constant as f64,
            ),
            (
                "node_timex_maxerror_seconds",
                "Maximum error in seconds.",
                t.maxerror as f64 / MICRO,
            ),
            (
                "node_timex_offset_seconds",
                "Time offset in between local system and reference clock.",
                t.offset as f64 / div,
            ),
        ];
        for (n, h, v) in g {
            out.single(n, h, Gauge, v);
        }
        let c = [
            (
                "node_timex_pps_calibration_total",
                "Pulse per second count of calibration intervals.",
                t.calcnt as f64,
            ),
            (
                "node_timex_pps_error_total",
                "Pulse per second count of calibration errors.",
                t.errcnt as f64,
            ),
        ];
        for (n, h, v) in c {
            out.single(n, h, Counter, v);
        }
        out.single(
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            Gauge,
            t.ppsfreq as f64 / PPM16FRAC,
        );
        out.single(
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            Gauge,
            t.jitter as f64 / div,
        );
        out.single(
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            Counter,
            t.jitcnt as f64,
        );
        out.single(
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            Gauge,
            t.shift as f64,
        );
        out.single(
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            Counter,
            t.stbcnt as f64,
        );
        out.single(
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            Gauge,
            t.stabil as f64 / PPM16FRAC,
        );
        out.single(
            "node_timex_status",
            "Value of the status array bits.",
            Gauge,
            t.status as f64,
        );
        out.single(
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            Gauge,
            sync,
        );
        out.single(
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            Gauge,
            t.tai as f64,
        );
        out.single(
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            Gauge,
            t.tick as f64 / MICRO,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    #[test]
    fn seventeen_families() {
        let t = render(&Timex);
        assert_eq!(t.matches("# TYPE node_timex_").count(), 17, "{t}");
        assert!(
            t.contains("node_timex_tick_seconds 0.01\n")
                || t.contains("node_timex_tick_seconds 0.00"),
            "{t}"
        );
    }
}
