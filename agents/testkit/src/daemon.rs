//! A daemon binary started for a test: `--listen 127.0.0.1:0` (or
//! `SRP_LISTEN`) in the command, the bound address read from its
//! `listening on http(s)://ADDR` log line, every stderr line kept for the
//! test to look at, and the process killed (by its pid) when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a daemon may take to log its address. Generous: CI machines are
/// shared and slow; a daemon that exits early is reported at once anyway.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The stderr lines seen so far, and a wake-up for those waiting on one.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let mut s = String::new();
        for l in lines.iter() {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// A started daemon. Dropping it kills the process (SIGKILL to its pid) and
/// reaps it, so a failing test leaves nothing running.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// `http` or `https`, as the daemon logged it.
    pub scheme: String,
    log: Arc<Log>,
}

impl Daemon {
    /// Start `cmd` (stdout to /dev/null, stderr read by a background thread)
    /// and wait for its `listening on` line. Panics, with the stderr seen, if
    /// the daemon exits first or does not log its address in time.
    pub fn spawn(cmd: &mut Command) -> Daemon {
        Self::start(cmd, None)
    }

    /// As [`Daemon::spawn`], and also copy each stderr line to the test's
    /// stderr behind `prefix`, so a failing test's output shows the daemon's log.
    pub fn spawn_echoing(cmd: &mut Command, prefix: &str) -> Daemon {
        Self::start(cmd, Some(prefix.to_string()))
    }

    fn start(cmd: &mut Command, echo: Option<String>) -> Daemon {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Log::default());
        let (tx, rx) = mpsc::channel();
        let reader_log = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(prefix) = &echo {
                    eprintln!("{prefix} {line}");
                }
                if !sent {
                    if let Some(found) = listening_address(&line) {
                        let _ = tx.send(found);
                        sent = true;
                    }
                }
                reader_log.lines.lock().unwrap().push(line);
                reader_log.grew.notify_all();
            }
            // Dropping `tx` here tells `start` the daemon closed stderr.
        });
        let failed = |child: &mut Child, why: String| -> ! {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "{:?} {why} (exit: {status:?}); its stderr:\n{}",
                cmd.get_program(),
                log.text()
            )
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok((scheme, addr))) => Daemon {
                child,
                addr,
                scheme,
                log,
            },
            Ok(Err(line)) => failed(&mut child, format!("logged an unreadable address: {line}")),
            Err(RecvTimeoutError::Timeout) => failed(
                &mut child,
                format!("did not log `listening on` within {START_TIMEOUT:?}"),
            ),
            // The reader stores each line before it can drop `tx`, so the
            // log is complete here.
            Err(RecvTimeoutError::Disconnected) => {
                failed(&mut child, "exited before logging `listening on`".into())
            }
        }
    }

    /// `scheme://addr` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stderr line so far, each ended by a newline.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Waits up to `timeout` for a stderr line (any seen so far, or a later
    /// one) that `pred` accepts and returns it; panics naming `what`, with
    /// the stderr seen, if none comes.
    pub fn expect_line(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut lines = self.log.lines.lock().unwrap();
        let mut checked = 0;
        loop {
            if let Some(l) = lines[checked..].iter().find(|l| pred(l)) {
                return l.clone();
            }
            checked = lines.len();
            let now = Instant::now();
            if now >= deadline {
                drop(lines);
                panic!(
                    "no stderr line {what} within {timeout:?}; stderr:\n{}",
                    self.log()
                );
            }
            lines = self.log.grew.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }

    /// Sends `signal` to the daemon's pid; panics if it cannot be delivered.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// SIGTERM: ask for a graceful stop. Follow with [`Daemon::wait`].
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("waiting for the daemon")
    }

    /// kill -9, like a crash, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Child::kill does nothing once the child has been reaped, so a pid
        // reused by then is never signalled.
        self.kill();
    }
}

/// `(scheme, address)` from a `listening on http(s)://ADDR` line, in text or
/// JSON log format; `Err(line)` if the line has the words but no address.
fn listening_address(line: &str) -> Option<Result<(String, SocketAddr), String>> {
    let (_, rest) = line.split_once("listening on ")?;
    let (scheme, rest) = if let Some(r) = rest.strip_prefix("http://") {
        ("http", r)
    } else if let Some(r) = rest.strip_prefix("https://") {
        ("https", r)
    } else {
        return None;
    };
    // The address ends where the message does: at a space, a quote (JSON) or
    // an escape sequence.
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    Some(
        addr.parse()
            .map(|a| (scheme.to_string(), a))
            .map_err(|_| line.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_from_text_and_json_lines() {
        let ok = |line: &str| listening_address(line).unwrap().unwrap();
        assert_eq!(
            ok("2026-01-01T00:00:00Z  INFO srp_daemon: listening on http://127.0.0.1:41234"),
            ("http".into(), "127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(
            ok(r#"{"fields":{"message":"listening on https://127.0.0.1:9100"},"level":"INFO"}"#),
            ("https".into(), "127.0.0.1:9100".parse().unwrap())
        );
        assert_eq!(
            ok("listening on http://[::1]:8080 more"),
            ("http".into(), "[::1]:8080".parse().unwrap())
        );
        assert!(listening_address("listening on unix:/run/x.sock").is_none());
        assert!(listening_address("starting").is_none());
        assert!(listening_address("listening on http://nowhere")
            .unwrap()
            .is_err());
    }
}
