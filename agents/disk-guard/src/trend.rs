//! Time until a filesystem is full, from a least-squares line through the
//! recent free-bytes samples — the same model as PromQL's
//! `predict_linear(node_filesystem_avail_bytes[window], t)`, solved for the
//! time at which the line reaches zero.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct Trend {
    window_secs: f64,
    samples: VecDeque<(f64, f64)>,
}

impl Trend {
    pub fn new(window_secs: f64) -> Self {
        Trend {
            window_secs,
            samples: VecDeque::new(),
        }
    }

    pub fn set_window(&mut self, window_secs: f64) {
        self.window_secs = window_secs;
    }

    /// Add a sample (unix seconds, free bytes) and forget those older than the window.
    pub fn push(&mut self, t: f64, free_bytes: f64) {
        if let Some(&(last, _)) = self.samples.back() {
            if t < last {
                // A clock step backwards would bend the fit: start over.
                self.samples.clear();
            }
        }
        self.samples.push_back((t, free_bytes));
        while let Some(&(first, _)) = self.samples.front() {
            if t - first > self.window_secs {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Seconds from `now` until the fitted line reaches zero free bytes.
    /// `None` when there is no trend to speak of (fewer than 3 samples, all
    /// at one instant) or free space is not decreasing: "never" is not a
    /// number, so the caller omits the series rather than invent a sentinel.
    pub fn seconds_until_full(&self, now: f64) -> Option<f64> {
        let n = self.samples.len();
        if n < 3 {
            return None;
        }
        let nf = n as f64;
        // Centre on the mean time: unix seconds squared lose precision in f64.
        let mean_t = self.samples.iter().map(|s| s.0).sum::<f64>() / nf;
        let mean_v = self.samples.iter().map(|s| s.1).sum::<f64>() / nf;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(t, v) in &self.samples {
            let dt = t - mean_t;
            sxy += dt * (v - mean_v);
            sxx += dt * dt;
        }
        if sxx == 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        if slope >= 0.0 || !slope.is_finite() {
            return None;
        }
        let free_now = mean_v + slope * (now - mean_t);
        Some((free_now / -slope).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_decline_predicts_the_exact_time_to_zero() {
        let mut tr = Trend::new(3600.0);
        // 1 GB free at t=1000, losing 1 MB/s.
        for i in 0..60 {
            let t = 1000.0 + i as f64 * 10.0;
            tr.push(t, 1e9 - 1e6 * (t - 1000.0));
        }
        let now = 1590.0;
        let eta = tr.seconds_until_full(now).unwrap();
        assert!((eta - 410.0).abs() < 1e-6, "{eta}");
    }

    #[test]
    fn noisy_decline_is_fitted_not_taken_from_endpoints() {
        let mut tr = Trend::new(1e9);
        let t0 = 1_750_000_000.0; // realistic unix times must not lose precision
        for i in 0..100 {
            let noise = if i % 2 == 0 { 5e6 } else { -5e6 };
            tr.push(t0 + i as f64 * 60.0, 8e9 - 1e5 * i as f64 * 60.0 + noise);
        }
        let now = t0 + 99.0 * 60.0;
        let eta = tr.seconds_until_full(now).unwrap();
        let expected = (8e9 - 1e5 * 99.0 * 60.0) / 1e5;
        assert!(
            (eta - expected).abs() / expected < 0.01,
            "{eta} vs {expected}"
        );
    }

    #[test]
    fn flat_or_growing_free_space_has_no_prediction() {
        let mut flat = Trend::new(3600.0);
        let mut up = Trend::new(3600.0);
        for i in 0..10 {
            flat.push(i as f64, 5e9);
            up.push(i as f64, 5e9 + i as f64);
        }
        assert_eq!(flat.seconds_until_full(10.0), None);
        assert_eq!(up.seconds_until_full(10.0), None);
    }

    #[test]
    fn too_few_samples_have_no_prediction() {
        let mut tr = Trend::new(3600.0);
        tr.push(0.0, 10.0);
        tr.push(1.0, 5.0);
        assert_eq!(tr.seconds_until_full(1.0), None);
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut tr = Trend::new(100.0);
        // Decline long ago, flat recently: the old decline must not count.
        for i in 0..10 {
            tr.push(i as f64 * 10.0, 1e9 - i as f64 * 1e7);
        }
        for i in 0..20 {
            tr.push(1000.0 + i as f64 * 10.0, 5e8);
        }
        assert!(tr.len() <= 11);
        assert_eq!(tr.seconds_until_full(1190.0), None);
    }

    #[test]
    fn already_past_zero_is_zero_not_negative() {
        let mut tr = Trend::new(3600.0);
        for i in 0..5 {
            tr.push(i as f64, 100.0 - 10.0 * i as f64);
        }
        assert_eq!(tr.seconds_until_full(1000.0), Some(0.0));
    }
}
