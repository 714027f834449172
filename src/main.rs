//! Thin entry point: parse, set up diagnostics, run one command on one runtime, map the result to
//! an exit code. Errors are printed as `error:` / `help:` lines, never through the default report.

use std::process::ExitCode;

use clap::Parser;
use login_release::cli::Cli;
use login_release::error::{report, Kind};

/// Small allocations are most of what the allocator sees (the changelog's walk: a dozen per
/// commit); mimalloc serves them in a fraction of glibc's time. libgit2 and zlib keep libc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long a command gets after Ctrl-C to stop on its own terms.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The exit code after a closed pipe (`| head`): 128 + SIGPIPE, what a shell reports for a tool
/// a closed pipe ended, so `set -o pipefail` scripts see it as they would for `cat` or `git`.
const PIPE_CLOSED_EXIT: u8 = login_release::error::PIPE_CLOSED.0;

fn main() -> ExitCode {
    // `COMPLETE=bash login-release ...`: answer the shell's completion request and exit.
    login_release::cli::complete_if_requested();
    let cli = Cli::parse();
    init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::from(e).context("starting the async runtime")),
    };
    let result = runtime.block_on(async move {
        // Registered before the command starts: `tokio::signal::ctrl_c()` registers only when
        // first polled, and a prompt shown before the command's first await (dialoguer raises
        // SIGINT on Ctrl-C) would meet the default action, which kills the process.
        let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(|e| anyhow::Error::from(e).context("listening for Ctrl-C"))?;
        let ctx = cli.global.context()?;
        let command = login_release::cli::run(&ctx, cli.command);
        tokio::pin!(command);
        tokio::select! {
            biased;
            r = &mut command => r,
            // A closed pipe stops the command as Ctrl-C does: nobody reads what it says.
            _ = async { tokio::select! {
                _ = ctrl_c.recv() => {},
                _ = login_release::output::pipe_closed() => {},
            } } => {
                // Commands that wait listen for this and stop saying where things stand (or
                // exit 0, as tail-logs --follow does); give the running one a moment to get
                // there, or to finish the call in flight, before the generic answer.
                ctx.interrupt();
                // An apply loop finishes the AWS call in flight (bounded by the SDK's timeouts)
                // and stops before the next, reporting what was and was not made: wait for it
                // rather than drop it part-way with a generic message.
                loop {
                    match tokio::time::timeout(INTERRUPT_GRACE, &mut command).await {
                        Ok(r) => break r,
                        Err(_) if login_release::aws::apply::applying() => continue,
                        Err(_) => break Err(login_release::error::AppError::new(
                        Kind::Interrupted,
                        "interrupted",
                    )
                    .with_hint("whatever was already applied stays applied; run the command again with --dry-run to see where things stand")
                    .into()),
                    }
                }
            }
        }
    });
    // A closed pipe ends quietly with 141; a failure with a code that says more (3 refused, 4
    // partly applied, ...) is still reported, on whatever stream is left.
    let closed = login_release::output::is_pipe_closed();
    match result {
        Ok(()) if closed => ExitCode::from(PIPE_CLOSED_EXIT),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if closed && report(&e).code == Kind::Interrupted.exit_code() => {
            ExitCode::from(PIPE_CLOSED_EXIT)
        }
        Err(e) => fail(&e),
    }
}

fn fail(err: &anyhow::Error) -> ExitCode {
    let r = report(err);
    let red = console::Style::new().red().bold();
    let cyan = console::Style::new().cyan().bold();
    login_release::output::stderr_line(format!("{} {}", red.apply_to("error:"), r.message));
    if let Some(hint) = r.hint {
        login_release::output::stderr_line(format!("{} {}", cyan.apply_to("help:"), hint));
    }
    ExitCode::from(r.code)
}

fn init_tracing(global: &login_release::cli::GlobalArgs) {
    use std::io::IsTerminal;
    let ansi = global.color.enabled_for(std::io::stderr().is_terminal());
    // By default only our own warnings: the SDK's (a region looked up from instance metadata
    // that is not there, say) are noise next to the one error line that follows them. -v and -vv
    // raise only our own level: the SDK's and hyper's debug and trace output dumps requests
    // (SSO bearer tokens, token-refresh bodies) that it does not redact; RUST_LOG can still ask.
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "login_release=warn,error",
        (false, 1) => "login_release=debug,error",
        (false, _) => "login_release=trace,error",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| login_release::output::StderrSink)
        .with_ansi(ansi)
        // With -v the target says whose line it is (always ours unless RUST_LOG asked for more).
        .with_target(global.verbose > 0)
        .init();
}
