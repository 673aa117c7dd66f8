//! The demo's progress display: one redrawn bar per job on a terminal, a few plain lines otherwise (a log
//! file or a pipe gets no carriage returns and no line per page).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::progress::{ProgressEvent, ProgressSink};

const BAR: usize = 28;
/// Without a terminal: a line at most this often per job, besides its first and last.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

struct Current {
    key: String,
    since: Instant,
    printed: Instant,
    last: String,
}

/// Draws progress on stderr.
pub struct ProgressDisplay {
    terminal: bool,
    current: Mutex<Option<Current>>,
}

impl Default for ProgressDisplay {
    fn default() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            current: Mutex::new(None),
        }
    }
}

impl ProgressDisplay {
    /// Ends the last job's display with its final figures.
    pub fn finish(&self) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = current.take() {
            self.end(&c);
        }
    }

    fn end(&self, c: &Current) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = writeln!(err);
        } else {
            let _ = writeln!(err, "{}", c.last);
        }
    }
}

/// "inventory  [########............]  4,500 of 10,000 cards · 12 calls left · ETA 12 s".
pub fn render(e: &ProgressEvent, elapsed: Duration, bar: bool) -> String {
    let mut line = format!("  {:<11} ", e.job);
    if let (true, Some(total)) = (bar, e.total.filter(|t| *t > 0)) {
        let filled = ((e.done.min(total) as f64 / total as f64) * BAR as f64).round() as usize;
        line.push_str(&format!(
            "[{}{}] ",
            "#".repeat(filled),
            ".".repeat(BAR - filled)
        ));
    }
    line.push_str(&count(e.done));
    if let Some(total) = e.total {
        line.push_str(&format!(" of {}", count(total)));
    }
    line.push_str(&format!(" {}", e.what));
    if let Some(calls_total) = e.calls_total {
        let left = calls_total.saturating_sub(e.calls_done);
        let per_call = elapsed.as_secs_f64() / e.calls_done.max(1) as f64;
        line.push_str(&format!(
            " · {left} calls left · ETA {:.0} s",
            per_call * left as f64
        ));
    }
    line
}

fn count(n: u64) -> String {
    crate::report::format::thousands(n as f64, 0)
}

impl ProgressSink for ProgressDisplay {
    fn update(&self, e: &ProgressEvent) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{}:{}", e.account, e.job);
        if current.as_ref().is_some_and(|c| c.key != key) {
            if let Some(c) = current.take() {
                self.end(&c);
            }
        }
        let now = Instant::now();
        let c = current.get_or_insert_with(|| Current {
            key,
            since: now,
            printed: now - PLAIN_EVERY,
            last: String::new(),
        });
        c.last = render(e, c.since.elapsed(), self.terminal);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            // Clear to the end of the line: the new text may be shorter than the old.
            let _ = write!(err, "\r{}\x1b[K", c.last);
            let _ = err.flush();
        } else if now.duration_since(c.printed) >= PLAIN_EVERY {
            c.printed = now;
            let _ = writeln!(err, "{}", c.last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_on_a_terminal_and_plain_figures_elsewhere() {
        let e = ProgressEvent {
            account: "demo".into(),
            job: "inventory",
            what: "cards",
            done: 4500,
            total: Some(10_000),
            calls_done: 9,
            calls_total: Some(20),
        };
        let bar = render(&e, Duration::from_secs(9), true);
        assert_eq!(
            bar,
            "  inventory   [#############...............] 4,500 of 10,000 cards · 11 calls left · ETA 11 s"
        );
        let plain = render(&e, Duration::from_secs(9), false);
        assert!(
            !plain.contains('[') && plain.contains("4,500 of 10,000 cards"),
            "{plain}"
        );
    }
}
