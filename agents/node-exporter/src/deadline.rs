//! A deadline per collector, so that one collector blocked in the kernel (a
//! hung NFS or FUSE mount under `/proc/self/mountstats`, a sysfs attribute
//! whose driver never answers) costs one scrape at most `deadline` and
//! never stalls the others. node_exporter has no such bound (its issues
//! #244 and #3058).
//!
//! Collectors run in order on one worker thread, each into its own buffer.
//! When a collector overruns, the scrape reports it `success 0`, gives up
//! that worker (it is stuck inside the collector) and goes on with the rest
//! on a fresh one. The stuck collector is not called again until its call
//! returns, so a collector that hangs for good holds one thread, never one
//! per scrape: no pile-up.

use crate::collector::{CollectError, Collector};
use crate::exposition::Exposition;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
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

struct Job {
    index: usize,
    reply: Sender<(usize, Result<(), CollectError>, Exposition, f64)>,
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
                    if gone.load(Ordering::Acquire) {
                        return;
                    }
                    let c = &collectors[job.index];
                    let mut out = Exposition::with_capacity(4096);
                    let start = Instant::now();
                    let result = c.collect(&mut out);
                    let seconds = start.elapsed().as_secs_f64();
                    running[job.index].store(false, Ordering::Release);
                    // The scrape may have gone on without this answer.
                    let _ = job.reply.send((job.index, result, out, seconds));
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
        let mut next = 0;
        while next < pending.len() {
            let (reply, answers) = mpsc::channel();
            if !self.dispatch(&mut worker, &pending[next..], &reply) {
                // No thread to run them on: say so rather than hang.
                for &i in &pending[next..] {
                    self.running[i].store(false, Ordering::Release);
                    results[i] = Some(overran(0.0));
                }
                break;
            }
            drop(reply);
            next = self.collect_answers(&mut worker, &pending, next, &answers, &mut results);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| overran(0.0)))
            .collect()
    }

    /// Queue `indices` on the worker (started if there is none).
    fn dispatch(
        &self,
        worker: &mut Option<Worker>,
        indices: &[usize],
        reply: &Sender<(usize, Result<(), CollectError>, Exposition, f64)>,
    ) -> bool {
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
            if w.jobs
                .send(Job {
                    index,
                    reply: reply.clone(),
                })
                .is_err()
            {
                self.running[index].store(false, Ordering::Release);
                *worker = None;
                return false;
            }
        }
        true
    }

    /// Take the answers in order; on an overrun, abandon the worker and
    /// return where the rest must start again.
    fn collect_answers(
        &self,
        worker: &mut Option<Worker>,
        pending: &[usize],
        mut next: usize,
        answers: &Receiver<(usize, Result<(), CollectError>, Exposition, f64)>,
        results: &mut [Option<Finished>],
    ) -> usize {
        while next < pending.len() {
            match answers.recv_timeout(self.deadline) {
                Ok((index, result, output, seconds)) => {
                    results[index] = Some(Finished {
                        outcome: Outcome::Done(result),
                        seconds,
                        output,
                    });
                    next += 1;
                }
                Err(e) => {
                    let stuck = pending[next];
                    if e == RecvTimeoutError::Disconnected {
                        // The worker died inside the collector (a panic): it
                        // is not running any more.
                        self.running[stuck].store(false, Ordering::Release);
                    }
                    tracing::warn!(
                        collector = self.collectors[stuck].name(),
                        deadline = ?self.deadline,
                        "collector overran its deadline; not called again until it returns"
                    );
                    results[stuck] = Some(overran(self.deadline.as_secs_f64()));
                    if let Some(w) = worker.take() {
                        w.abandoned.store(true, Ordering::Release);
                    }
                    // The jobs queued behind it were never started.
                    for &i in &pending[next + 1..] {
                        self.running[i].store(false, Ordering::Release);
                    }
                    return next + 1;
                }
            }
        }
        next
    }
}

fn overran(seconds: f64) -> Finished {
    Finished {
        outcome: Outcome::Overran,
        seconds,
        output: Exposition::default(),
    }
}
