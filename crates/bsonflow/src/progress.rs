//! Progress on stderr, drawn from the shared [`Progress`] counters while a run works: a bar
//! on a terminal, or — when stderr is a pipe or a file (a pipeline's log) — one plain line
//! every few seconds with bytes done of total, rate and ETA, without escape codes or
//! carriage returns. `--progress` chooses ([`ProgressMode`]); [`configure`] sets it once for
//! the run.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bsonflow_model::{ByteSize, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ProgressMode;

/// The interval of plain lines, in milliseconds, when set (tests use a short one).
const INTERVAL_VAR: &str = "BSONFLOW_PROGRESS_INTERVAL_MS";
/// The interval of plain lines otherwise.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

static MODE: OnceLock<ProgressMode> = OnceLock::new();

/// Sets `--progress` for the run (the first call wins).
pub fn configure(mode: ProgressMode) {
    let _ = MODE.set(mode);
}

/// How progress is shown, from `--progress`, `--quiet` and whether stderr is a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    None,
    Bar,
    Lines,
}

fn style(mode: ProgressMode, quiet: bool, terminal: bool) -> Style {
    match mode {
        ProgressMode::Never => Style::None,
        ProgressMode::Auto if quiet => Style::None,
        ProgressMode::Plain if quiet => Style::None,
        ProgressMode::Plain => Style::Lines,
        ProgressMode::Auto | ProgressMode::Always => match terminal {
            true => Style::Bar,
            false => Style::Lines,
        },
    }
}

fn interval() -> Duration {
    std::env::var(INTERVAL_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_INTERVAL)
}

/// Draws `progress` on stderr until dropped.
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    pub fn start(label: &str, progress: Arc<Progress>, quiet: bool) -> Bar {
        let stop = Arc::new(AtomicBool::new(false));
        let mode = MODE.get().copied().unwrap_or_default();
        let thread = match style(mode, quiet, std::io::stderr().is_terminal()) {
            Style::None => None,
            Style::Bar => Some(bar(label, progress, Arc::clone(&stop))),
            Style::Lines => Some(lines(label, progress, Arc::clone(&stop), interval())),
        };
        Bar { stop, thread }
    }
}

/// The terminal bar (indicatif).
fn bar(label: &str, progress: Arc<Progress>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let total = progress.total();
            if total > 0 {
                bar.set_length(total);
            }
            bar.set_position(progress.consumed());
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    })
}

/// One plain line every `every`.
fn lines(
    label: &str,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    every: Duration,
) -> JoinHandle<()> {
    let label = label.to_string();
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut next = started + every;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next {
                let line = plain_line(&label, progress.consumed(), progress.total(), now - started);
                eprintln!("{line}");
                next += every;
                if next < now {
                    next = now + every;
                }
            }
            std::thread::sleep(every.min(Duration::from_millis(100)));
        }
    })
}

/// `bsonflow: converting: 1.2 GB of 4.5 GB (26.7 %), 85.3 MB/s, ETA 38s`; without a
/// known total, `bsonflow: converting: 1.2 GB, 85.3 MB/s`.
fn plain_line(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = match secs > 0.0 {
        true => done as f64 / secs,
        false => 0.0,
    };
    let rate_text = format!("{}/s", ByteSize(rate as u64));
    if total == 0 {
        return format!("bsonflow: {label}: {}, {rate_text}", ByteSize(done));
    }
    let pct = 100.0 * done.min(total) as f64 / total as f64;
    let eta = match rate > 0.0 {
        true => duration_text(Duration::from_secs_f64(
            total.saturating_sub(done) as f64 / rate,
        )),
        false => "unknown".to_string(),
    };
    format!(
        "bsonflow: {label}: {} of {} ({pct:.1} %), {rate_text}, ETA {eta}",
        ByteSize(done),
        ByteSize(total)
    )
}

/// `1h02m03s`, `2m05s`, `7s`.
fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_follows_the_mode_quiet_and_the_terminal() {
        use ProgressMode::*;
        assert_eq!(style(Auto, false, true), Style::Bar);
        assert_eq!(style(Auto, false, false), Style::Lines);
        assert_eq!(style(Auto, true, true), Style::None);
        assert_eq!(style(Always, true, false), Style::Lines);
        assert_eq!(style(Always, true, true), Style::Bar);
        assert_eq!(style(Plain, false, true), Style::Lines);
        assert_eq!(style(Never, false, true), Style::None);
    }

    #[test]
    fn plain_lines_say_done_total_rate_and_eta() {
        let line = plain_line(
            "converting",
            50_000_000,
            200_000_000,
            Duration::from_secs(2),
        );
        assert!(line.starts_with("bsonflow: converting: "), "{line}");
        assert!(line.contains("(25.0 %)"), "{line}");
        assert!(line.contains("/s, ETA 6s"), "{line}");
        let open = plain_line("reading", 1000, 0, Duration::from_secs(1));
        assert!(!open.contains("ETA"), "{open}");
        assert_eq!(duration_text(Duration::from_secs(3723)), "1h02m03s");
        assert_eq!(duration_text(Duration::from_secs(125)), "2m05s");
    }
}
