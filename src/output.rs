//! Every byte the user sees: data on stdout, status on stderr, JSON documents, progress, prompts.
//! The only module of the library allowed to print (the lints in `lib.rs` deny it elsewhere).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use console::Style;
use serde::Serialize;

use crate::plan::Plan;

/// Set once a write to stdout or stderr found its reader gone (`| head`, a closed terminal).
static PIPE_CLOSED: AtomicBool = AtomicBool::new(false);
/// Wakes [`pipe_closed`] waiters when [`PIPE_CLOSED`] is first set.
static PIPE_CLOSED_NOTIFY: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Whether any write found its reader gone. `main` then ends the run quietly (exit 141).
pub fn is_pipe_closed() -> bool {
    PIPE_CLOSED.load(Ordering::SeqCst)
}

/// Resolves once a write found its reader gone (at once if one already did): `main` stops the
/// command as Ctrl-C would, since nobody reads what it says any more.
pub async fn pipe_closed() {
    let notified = PIPE_CLOSED_NOTIFY.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if is_pipe_closed() {
        return;
    }
    notified.await;
}

/// Writes all of `text` and flushes. A closed pipe is remembered, never a panic (`println!`
/// panics on EPIPE, as Rust ignores SIGPIPE); other write errors are dropped like the lines they
/// carried, because there is nowhere left to report them.
fn write_all(mut w: impl Write, text: &[u8]) {
    if let Err(e) = w.write_all(text).and_then(|()| w.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe && !PIPE_CLOSED.swap(true, Ordering::SeqCst) {
            PIPE_CLOSED_NOTIFY.notify_waiters();
        }
    }
}

/// One line on stderr (the newline is added), surviving a closed pipe.
pub fn stderr_line(text: impl AsRef<str>) {
    let mut line = text.as_ref().as_bytes().to_vec();
    line.push(b'\n');
    write_all(std::io::stderr().lock(), &line);
}

/// One line on stdout (the newline is added), surviving a closed pipe.
pub fn stdout_line(text: impl AsRef<str>) {
    let mut line = text.as_ref().as_bytes().to_vec();
    line.push(b'\n');
    write_all(std::io::stdout().lock(), &line);
}

/// stderr for the diagnostics subscriber: tracing-subscriber reports its own failed writes with
/// `eprintln!`, which would panic on a closed pipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrSink;

impl Write for StderrSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_all(std::io::stderr().lock(), buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The version of every JSON document's shape; bump it when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned text and tables for people.
    #[default]
    #[value(alias = "table")]
    Text,
    /// One JSON document on stdout with a top-level `schema_version`.
    Json,
    /// Tab-separated values with a header (where a command lists rows).
    Tsv,
    /// Instance ids comma-joined on one line (ls-servers).
    Ids,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// The one rule for colour on a stream: `always`, `never`, or with `auto` a terminal and no
    /// `NO_COLOR`. Output and diagnostics both ask this, each for the stream it writes to.
    pub fn enabled_for(self, stream_is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stream_is_terminal
            }
        }
    }
}

/// The output channel every command writes through.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
    color: bool,
    stderr_tty: bool,
}

impl Output {
    pub fn new(format: Format, color: ColorChoice, quiet: bool) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let stdout_color = color.enabled_for(std::io::stdout().is_terminal());
        let stderr_color = color.enabled_for(stderr_tty);
        console::set_colors_enabled(stdout_color);
        console::set_colors_enabled_stderr(stderr_color);
        // The plan goes to stdout or stderr depending on the format: colour it only when both
        // streams take colour, so a plan piped into a file never carries escapes.
        let color = stdout_color && stderr_color;
        Output {
            format,
            quiet,
            color,
            stderr_tty,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    pub fn color(&self) -> bool {
        self.color
    }

    /// A status line on stderr (suppressed by `-q`).
    pub fn status(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            stderr_line(msg);
        }
    }

    /// A warning on stderr; shown even with `-q`.
    pub fn warn(&self, msg: impl AsRef<str>) {
        stderr_line(format!(
            "{} {}",
            Style::new().yellow().bold().apply_to("warning:"),
            msg.as_ref()
        ));
    }

    /// A plain line on stderr that `-q` does not hide (a failed watch's summary).
    pub fn notice(&self, msg: impl AsRef<str>) {
        stderr_line(msg);
    }

    /// A success line on stderr.
    pub fn success(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            stderr_line(format!(
                "{} {}",
                Style::new().green().bold().apply_to("ok:"),
                msg.as_ref()
            ));
        }
    }

    /// Data on stdout: the thing a script would capture.
    pub fn data(&self, text: impl AsRef<str>) {
        stdout_line(text);
    }

    /// One JSON document on stdout: `{"schema_version": 1, "command": ..., ...value}`.
    pub fn json<T: Serialize>(&self, command: &str, value: &T) -> anyhow::Result<()> {
        let mut doc = serde_json::Map::new();
        doc.insert("schema_version".into(), SCHEMA_VERSION.into());
        doc.insert("command".into(), command.into());
        match serde_json::to_value(value)? {
            serde_json::Value::Object(map) => doc.extend(map),
            other => {
                doc.insert("result".into(), other);
            }
        }
        self.data(serde_json::to_string_pretty(&serde_json::Value::Object(
            doc,
        ))?);
        Ok(())
    }

    /// The plan, in the same words for `--dry-run`, the confirmation and the run. In JSON mode
    /// the plan travels inside the final document; the text goes to stderr for a person at a prompt.
    pub fn plan(&self, plan: &Plan) {
        let text = plan.render(self.color);
        if self.is_json() {
            self.status(text.trim_end());
        } else {
            self.data(text.trim_end());
        }
    }

    /// The plan a prompt asks about: on stderr beside the prompt, whatever `-q` or `-o` say and
    /// wherever stdout goes, so nobody is asked to confirm a plan they cannot see.
    pub fn plan_before_prompt(&self, plan: &Plan) {
        stderr_line(plan.render(self.color).trim_end());
    }

    pub fn bold(&self, s: &str) -> String {
        Style::new().bold().apply_to(s).to_string()
    }

    pub fn dim(&self, s: &str) -> String {
        Style::new().dim().apply_to(s).to_string()
    }

    /// A spinner on a terminal, timestamped lines otherwise (DESIGN section 3).
    pub fn progress(&self, msg: impl Into<String>) -> Progress {
        Progress::start(self, msg.into())
    }
}

/// Progress of a wait: an indicatif spinner with elapsed time on a terminal, or plain timestamped
/// lines (only when the message changes) when stderr is a file or pipe.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: String,
    started: Instant,
    quiet: bool,
    /// On a pipe: what the last printed line said (its durations aside), and when.
    printed: Option<(String, Instant)>,
}

/// On a pipe or in a file, a countdown would print a line every tick: a line is printed when
/// what it says changes (durations aside), and a countdown alone once in this long.
const PIPED_EVERY: Duration = Duration::from_secs(30);

/// `msg` with its durations (`7s`, `4m30s`, `1h`) as `#`: two lines with the same shape say
/// the same thing a little later.
fn shape(msg: &str) -> String {
    static DURATION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\b(\d+[hms])+\b").expect("a valid pattern")
    });
    DURATION.replace_all(msg, "#").into_owned()
}

impl Progress {
    fn start(out: &Output, msg: String) -> Self {
        let mut p = Progress {
            bar: None,
            last: String::new(),
            started: Instant::now(),
            quiet: out.quiet,
            printed: None,
        };
        if out.stderr_tty && !out.quiet {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            p.bar = Some(bar);
        }
        p.set(msg);
        p
    }

    pub fn set(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if msg == self.last {
            return;
        }
        match &self.bar {
            Some(bar) => bar.set_message(msg.clone()),
            None if !self.quiet => {
                let shape = shape(&msg);
                let due = self
                    .printed
                    .as_ref()
                    .is_none_or(|(last, at)| *last != shape || at.elapsed() >= PIPED_EVERY);
                if due {
                    stderr_line(format!(
                        "[{}] {}",
                        jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                        msg
                    ));
                    self.printed = Some((shape, Instant::now()));
                }
            }
            None => {}
        }
        self.last = msg;
    }

    /// Prints a line above the spinner (or as a plain line).
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(line.as_ref()),
            None if !self.quiet => stderr_line(line),
            None => {}
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A table for people: aligned, no borders beyond a header rule, colours only on a terminal.
pub fn table(header: &[&str], rows: Vec<Vec<String>>, with_header: bool) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    if with_header {
        t.set_header(header.iter().map(|h| h.to_string()));
    }
    for row in rows {
        t.add_row(row);
    }
    // Two spaces between columns, none before the first: tables line up with the text around them.
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    t.lines()
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tab-separated rows with an optional header, for scripts.
pub fn tsv(header: &[&str], rows: &[Vec<String>], with_header: bool) -> String {
    let mut out = Vec::new();
    if with_header {
        out.push(header.join("\t"));
    }
    out.extend(rows.iter().map(|r| r.join("\t")));
    out.join("\n")
}

/// `key  value` lines with the values aligned, for a command's summary on stdout.
pub fn key_values(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:width$}  {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_countdown_has_one_shape_and_a_change_of_count_another() {
        use super::shape;
        assert_eq!(
            shape("prod-idp 0/4 (scale-out in 7s), prod-worker 0/2 (scale-out in 1m30s)"),
            shape("prod-idp 0/4 (scale-out in 6s), prod-worker 0/2 (scale-out in 1m29s)")
        );
        assert_ne!(
            shape("prod-idp 0/4 ready, 4 launched (scale-down in 20s)"),
            shape("prod-idp 1/4 ready, 4 launched (scale-down in 19s)")
        );
        // Times of day and instance ids are not durations.
        assert_eq!(
            shape("waiting for the soak at 2026-12-02T21:52:38Z: 1h2m left"),
            "waiting for the soak at 2026-12-02T21:52:38Z: # left"
        );
        assert_eq!(shape("i-0a1b2c3s"), "i-0a1b2c3s");
    }
}
