//! A deadline per collector, so that one collector blocked in the kernel (a
//! hung NFS or FUSE mount under `/proc/self/mountstats`, a sysfs attribute
//! whose driver never answers) costs one scrape at most `deadline` and
//! never stalls the others. node_exporter has no such bound (its issues
//! #244 and #3058).
//!
//! Collectors run in order on one worker thread, each into its own buffer.
//! The whole scrape is one hand-off: the worker records which collector it
//! is in and since when, and wakes the scrape only when the batch is done,
//! so a normal scrape costs two thread switches, not two per collector. The
//! scrape sleeps until the running collector's deadline at the latest; when
//! a collector overruns, the scrape reports it `success 0`, gives up that
//! worker (it is stuck inside the collector) and goes on with the rest on a
//! fresh one. The stuck collector is not called again until its call
//! returns, so a collector that hangs for good holds one thread, never one
//! per scrape: no pile-up.

use crate::collector::{CollectError, Collector};
use crate::exposition::Exposition;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What became of one collector in one scrape.
pub enum Outcome {
    Done(Result<(), CollectError>),
    /// Still running when the deadline passed (now or in an earlier scrape).
    Overran,
}

pub struct Finished {
    pub outcome: Outcome,
    pub seconds: f64,
    pub output: Exposition,
}

type Answer = (usize, Result<(), CollectError>, Exposition, f64);

/// One scrape's batch, shared by the scrape and the worker.
#[derive(Default)]
struct Progress {
    answers: Vec<Answer>,
    /// The collector being called, and since when.
    current: Option<(usize, Instant)>,
    /// The worker is through the batch (or died in it).
    done: bool,
}

#[derive(Default)]
struct Batch {
    progress: Mutex<Progress>,
    finished: Condvar,
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks the batch done when the worker leaves it, also by a panic.
struct DoneOnDrop(Arc<Batch>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.lock().done = true;
        self.0.finished.notify_one();
    }
}

struct Job {
    indices: Vec<usize>,
    batch: Arc<Batch>,
}

struct Worker {
    jobs: Sender<Job>,
    /// Set when the scrape gave up on this worker: it runs no further job.
    abandoned: Arc<AtomicBool>,
}

pub struct DeadlineRunner {
    collectors: Arc<Vec<Box<dyn Collector>>>,
    /// Per collector: a call is in progress (possibly from an earlier scrape).
    running: Arc<Vec<AtomicBool>>,
    deadline: Duration,
    worker: Mutex<Option<Worker>>,
}

impl DeadlineRunner {
    pub fn new(collectors: Arc<Vec<Box<dyn Collector>>>, deadline: Duration) -> Self {
        let running = Arc::new(
            (0..collectors.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
        );
        DeadlineRunner {
            collectors,
            running,
            deadline,
            worker: Mutex::new(None),
        }
    }

    fn spawn_worker(&self) -> std::io::Result<Worker> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let abandoned = Arc::new(AtomicBool::new(false));
        let collectors = Arc::clone(&self.collectors);
        let running = Arc::clone(&self.running);
        let gone = Arc::clone(&abandoned);
        std::thread::Builder::new()
            .name("collectors".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    let batch = DoneOnDrop(job.batch);
                    for index in job.indices {
                        if gone.load(Ordering::Acquire) {
                            return;
                        }
                        let start = Instant::now();
                        batch.0.lock().current = Some((index, start));
                        let mut out = Exposition::with_capacity(4096);
                        let result = collectors[index].collect(&mut out);
                        let seconds = start.elapsed().as_secs_f64();
                        running[index].store(false, Ordering::Release);
                        let mut p = batch.0.lock();
                        p.current = None;
                        // The scrape may have gone on without this answer.
                        p.answers.push((index, result, out, seconds));
                    }
                }
            })?;
        Ok(Worker { jobs, abandoned })
    }

    /// Run every collector, each within the deadline; results in collector order.
    pub fn run(&self) -> Vec<Finished> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        let mut results: Vec<Option<Finished>> = (0..self.collectors.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = Vec::new();
        for (i, slot) in results.iter_mut().enumerate() {
            if self.running[i].load(Ordering::Acquire) {
                *slot = Some(overran(0.0));
            } else {
                pending.push(i);
            }
        }
        while !pending.is_empty() {
            let batch = Arc::new(Batch::default());
            if !self.dispatch(&mut worker, &pending, &batch) {
                // No thread to run them on: say so rather than hang.
                for &i in &pending {
                    self.running[i].store(false, Ordering::Release);
                    results[i] = Some(overran(0.0));
                }
                break;
            }
            pending = self.await_batch(&mut worker, &pending, &batch, &mut results);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| overran(0.0)))
            .collect()
    }

    /// Hand `indices` to the worker (started if there is none) in one job.
    fn dispatch(&self, worker: &mut Option<Worker>, indices: &[usize], batch: &Arc<Batch>) -> bool {
        if worker.is_none() {
            match self.spawn_worker() {
                Ok(w) => *worker = Some(w),
                Err(e) => {
                    tracing::warn!("cannot start a collector thread: {e}");
                    return false;
                }
            }
        }
        let w = worker.as_ref().expect("just started");
        for &index in indices {
            self.running[index].store(true, Ordering::Release);
        }
        let job = Job {
            indices: indices.to_vec(),
            batch: Arc::clone(batch),
        };
        if w.jobs.send(job).is_err() {
            for &index in indices {
                self.running[index].store(false, Ordering::Release);
            }
            *worker = None;
            return false;
        }
        true
    }

    /// Wait for the batch, waking at the running collector's deadline at the
    /// latest. On an overrun (or a worker that died inside a collector),
    /// abandon the worker and return the collectors never started, which the
    /// caller runs on a fresh one.
    fn await_batch(
        &self,
        worker: &mut Option<Worker>,
        pending: &[usize],
        batch: &Batch,
        results: &mut [Option<Finished>],
    ) -> Vec<usize> {
        let mut p = batch.lock();
        // Between two collectors (or before the first) the worker is in none;
        // idle that long would mean it never took the job: bound that too.
        let (mut seen, mut idle_since) = (p.answers.len(), Instant::now());
        let stuck = loop {
            if p.done {
                // A worker that died in a collector left it as `current`.
                break p.current.map(|(i, _)| (i, false));
            }
            if p.answers.len() != seen {
                (seen, idle_since) = (p.answers.len(), Instant::now());
            }
            let started = p.current.map_or(idle_since, |(_, t)| t);
            let left = self.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                match p.current {
                    Some((i, _)) => break Some((i, true)),
                    None => {
                        let answered = |i: &usize| p.answers.iter().any(|a| a.0 == *i);
                        break pending
                            .iter()
                            .copied()
                            .find(|i| !answered(i))
                            .map(|i| (i, false));
                    }
                }
            }
            p = batch
                .finished
                .wait_timeout(p, left.max(Duration::from_millis(1)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        let answers = std::mem::take(&mut p.answers);
        drop(p);
        for (index, result, output, seconds) in answers {
            results[index] = Some(Finished {
                outcome: Outcome::Done(result),
                seconds,
                output,
            });
        }
        let Some((stuck, still_running)) = stuck else {
            return Vec::new();
        };
        if still_running {
            tracing::warn!(
                collector = self.collectors[stuck].name(),
                deadline = ?self.deadline,
                "collector overran its deadline; not called again until it returns"
            );
        } else {
            // The worker died inside the collector (a panic): it is not
            // running any more.
            self.running[stuck].store(false, Ordering::Release);
        }
        results[stuck] = Some(overran(self.deadline.as_secs_f64()));
        if let Some(w) = worker.take() {
            w.abandoned.store(true, Ordering::Release);
        }
        // Those after the stuck one were never started.
        let rest: Vec<usize> = pending
            .iter()
            .copied()
            .skip_while(|&i| i != stuck)
            .skip(1)
            .collect();
        for &i in &rest {
            self.running[i].store(false, Ordering::Release);
        }
        rest
    }
}

fn overran(seconds: f64) -> Finished {
    Finished {
        outcome: Outcome::Overran,
        seconds,
        output: Exposition::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::MetricType::Gauge;

    struct Fine(&'static str);
    impl Collector for Fine {
        fn name(&self) -> &'static str {
            self.0
        }
        fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
            out.single("node_fine", "Fine.", Gauge, 1.0);
            Ok(())
        }
    }

    struct Panics;
    impl Collector for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn collect(&self, _: &mut Exposition) -> Result<(), CollectError> {
            panic!("a collector bug");
        }
    }

    /// A worker that dies inside a collector (a panic, in builds that
    /// unwind) must not cost the scrape its deadline, nor the collectors
    /// after it their answers; and the dead one is called again next time.
    #[test]
    fn a_worker_dying_in_a_collector_fails_only_that_collector_at_once() {
        let collectors: Vec<Box<dyn Collector>> =
            vec![Box::new(Fine("a")), Box::new(Panics), Box::new(Fine("b"))];
        let r = DeadlineRunner::new(Arc::new(collectors), Duration::from_secs(30));
        for _ in 0..2 {
            let started = Instant::now();
            let done = r.run();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no deadline wait"
            );
            let ok: Vec<bool> = done
                .iter()
                .map(|f| matches!(f.outcome, Outcome::Done(Ok(()))))
                .collect();
            assert_eq!(ok, vec![true, false, true]);
            assert!(done[2].output.as_str().contains("node_fine 1\n"));
        }
    }
}
