//! Thin entry point: parse, set up diagnostics, run one command on one runtime, map the result to
//! an exit code. Errors are printed as `error:` / `help:` lines, never through the default report.

use std::process::ExitCode;

use clap::Parser;
use login_release::cli::Cli;
use login_release::error::report;

/// How long a command gets after Ctrl-C to stop on its own terms.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

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
        let ctx = cli.global.context()?;
        let command = login_release::cli::run(&ctx, cli.command);
        tokio::pin!(command);
        tokio::select! {
            biased;
            r = &mut command => r,
            _ = tokio::signal::ctrl_c() => {
                // Commands that wait listen for this and stop saying where things stand (or
                // exit 0, as tail-logs --follow does); give the running one a moment to get
                // there, or to finish the call in flight, before the generic answer.
                ctx.interrupt();
                match tokio::time::timeout(INTERRUPT_GRACE, &mut command).await {
                    Ok(r) => r,
                    Err(_) => Err(login_release::error::AppError::new(
                        login_release::error::Kind::Interrupted,
                        "interrupted",
                    )
                    .with_hint("whatever was already applied stays applied; run the command again with --dry-run to see where things stand")
                    .into()),
                }
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(err: &anyhow::Error) -> ExitCode {
    let r = report(err);
    let red = console::Style::new().red().bold();
    let cyan = console::Style::new().cyan().bold();
    eprintln!("{} {}", red.apply_to("error:"), r.message);
    if let Some(hint) = r.hint {
        eprintln!("{} {}", cyan.apply_to("help:"), hint);
    }
    ExitCode::from(r.code)
}

fn init_tracing(global: &login_release::cli::GlobalArgs) {
    use std::io::IsTerminal;
    let ansi = global.color.enabled_for(std::io::stderr().is_terminal());
    // By default only our own warnings: the SDK's (a region looked up from instance metadata
    // that is not there, say) are noise next to the one error line that follows them.
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "login_release=warn,error",
        (false, 1) => "login_release=debug,info",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}
