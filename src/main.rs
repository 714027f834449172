//! Thin entry point: parse, set up diagnostics, run one command on one runtime, map the result to
//! an exit code. Errors are printed as `error:` / `help:` lines, never through the default report.

use std::process::ExitCode;

use clap::Parser;
use login_release::cli::Cli;
use login_release::context::Context;
use login_release::error::report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::from(e).context("starting the async runtime")),
    };
    let result = runtime.block_on(async move {
        let ctx = Context::new(cli.global)?;
        // `biased`: the command is polled first, so a command that handles Ctrl-C itself
        // (tail-logs --follow exits 0, the watches say where things stand) wins over the generic
        // "interrupted" below, which both see.
        tokio::select! {
            biased;
            r = login_release::commands::run(&ctx, cli.command) => r,
            _ = tokio::signal::ctrl_c() => Err(login_release::error::AppError::new(
                login_release::error::Kind::Interrupted,
                "interrupted",
            )
            .with_hint("changes already sent stay applied; run the command again with --dry-run to see where things stand")
            .into()),
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

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "login_release=debug,info",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
