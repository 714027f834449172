//! `sandbox`: Start, inspect or stop the local rehearsal sandbox.
//!
//! `up` starts the AWS emulator (moto's server) and a deploy.json server on loopback, seeds a
//! prod-shaped fleet, builds a git origin and clone with identity-idp-like history, makes a
//! throw-away signing key, writes the rehearsal's timings and starts the world simulator
//! (`world-run`, see `sandbox::sim`) that makes the fleet move by itself; `env` prints the
//! exports that point every command at it; `break`/`mend` set and clear faults; `down` stops
//! what `up` started and removes the directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::aws::Aws;
use crate::context::Context;
use crate::error::{failed, preflight};
use crate::plan;
use crate::sandbox::control::Control;
use crate::sandbox::emulator::{find_python, Emulator};
use crate::sandbox::faults::{ErrorFault, Faults};
use crate::sandbox::github::{self, MergeMethod};
use crate::sandbox::rate::Rate;
use crate::sandbox::seed::{seed, FleetSpec, Seeded};
use crate::sandbox::sim::{self, Phase, World, WorldStatus};
use crate::sandbox::timings::{self, WorldConfig};
use crate::sandbox::world::{self, Proc, State};
use crate::types::Env;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The world moves by itself: scheduled actions run at their time, new instances boot with the sha
stages/prod holds and turn healthy, unprotected instances above desired go, the idp logs traffic.

Practise a release by hand:
  login-release sandbox up
  eval \"$(login-release sandbox env)\"
  login-release ls-servers -e prod
  login-release asg-recycle prod idp
  login-release sandbox status
  login-release sandbox down")]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Start the sandbox: AWS emulator with a prod-shaped fleet, git origin and clone, staging
    /// deploy.json, signing key, and the world simulator that makes the fleet move.
    Up(DirArg),
    /// Stop the sandbox's processes and remove its directory.
    Down(DirArg),
    /// Print `export` lines for `eval "$(login-release sandbox env)"`.
    Env(DirArg),
    /// Show what runs and where, and what the world is doing (exit 3 when the sandbox is not
    /// up or a process of it stopped).
    Status(DirArg),
    /// Set a fault to rehearse a failure path (`sandbox mend` clears them).
    Break(BreakArgs),
    /// Clear every fault `sandbox break` set.
    Mend(DirArg),
    /// Play the reviewer on the sandbox's GitHub: approve a PR (and with --merge, merge it).
    Approve(ApproveArgs),
    /// Play the developers and staging: a change lands on origin's main and staging deploys it,
    /// so there is a next release to cut.
    Stage(StageArgs),
    /// The world simulator `sandbox up` starts (runs until the sandbox goes).
    #[command(hide = true)]
    WorldRun(DirArg),
    /// Seed another environment of same-sized groups (for benchmarks). Loopback only.
    #[command(hide = true)]
    Seed(SeedArgs),
}

#[derive(Debug, clap::Args)]
pub struct DirArg {
    /// The sandbox's directory.
    #[arg(long, default_value = "sandbox-state", value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BreakArgs {
    #[command(subcommand)]
    pub fault: Fault,
}

#[derive(Debug, clap::Subcommand)]
pub enum Fault {
    /// The next migration instance's provision abandons (the lifecycle ABANDON).
    Migration(DirArg),
    /// New instances never turn healthy (their health checks fail).
    Health(DirArg),
    /// The code answers RATE of its requests with 5xx.
    Errors(ErrorsArgs),
}

#[derive(Debug, clap::Args)]
pub struct ErrorsArgs {
    /// Only the code the fleet does not run yet fails (the next release's sha).
    #[arg(long)]
    pub new_sha: bool,
    /// Share of requests answered 5xx, as a percentage.
    #[arg(long, default_value = "5%", value_name = "PERCENT")]
    pub rate: Rate,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The PR: its number, `#N`, or its URL [default: the one open promotion PR, into the
    /// production branch].
    #[arg(value_name = "PR", value_parser = parse_pr)]
    pub pr: Option<u64>,
    /// Without a PR: wait this long for the promotion PR to be opened (as a reviewer waits for
    /// `deploy start` to open it).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "0s",
        conflicts_with = "pr"
    )]
    pub wait: crate::types::HumanDuration,
    /// Merge it too, as the reviewer would on GitHub.
    #[arg(long)]
    pub merge: bool,
    /// How to merge (the runbook asks for a merge commit; squash and rebase are there to
    /// rehearse what tag-release says about them).
    #[arg(long, default_value = "merge", value_name = "METHOD", value_parser = ["merge", "squash", "rebase"], requires = "merge")]
    pub method: String,
    /// The reviewer's GitHub login.
    #[arg(long, default_value = github::REVIEWER, value_name = "LOGIN")]
    pub reviewer: String,
    #[command(flatten)]
    pub dir: DirArg,
}

fn parse_pr(s: &str) -> std::result::Result<u64, String> {
    github::parse_pr(s).ok_or_else(|| format!("{s:?} is not a PR number, #N or a PR URL"))
}

#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// The commit message of the change (with its changelog trailer).
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "Remember the last sign-in method (#9110)\n\nchangelog: User-Facing Improvements, Sign In, Remember the last sign-in method"
    )]
    pub message: String,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    pub env: Env,
    /// Number of groups.
    #[arg(long, default_value_t = 5)]
    pub groups: usize,
    /// Instances per group.
    #[arg(long, default_value_t = 100)]
    pub size: i32,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    match args.command {
        Sub::Up(a) => up(ctx, &a.dir).await,
        Sub::Down(a) => down(ctx, &a.dir),
        Sub::Env(a) => env(ctx, &a.dir),
        Sub::Status(a) => status(ctx, &a.dir),
        Sub::Break(a) => break_world(ctx, a.fault),
        Sub::Mend(a) => mend(ctx, &a.dir),
        Sub::Stage(a) => stage(ctx, a),
        Sub::Approve(a) => approve(ctx, a),
        Sub::WorldRun(a) => {
            let dir = absolute(&a.dir)?;
            World::new(&dir, ctx.settings().clone()).await?.run().await
        }
        Sub::Seed(a) => seed_more(ctx, a).await,
    }
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    Ok(cwd.join(dir))
}

fn hint_dir(dir: &Path) -> String {
    if dir == Path::new("sandbox-state") {
        String::new()
    } else {
        format!(" --dir {}", world::shell_quote(&dir.display().to_string()))
    }
}

/// Kills what was started and removes the directory if `up` fails half-way.
struct Rollback {
    dir: PathBuf,
    procs: Vec<Proc>,
    gnupghome: Option<PathBuf>,
    armed: bool,
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for p in &self.procs {
            world::stop(p);
        }
        if let Some(h) = &self.gnupghome {
            world::kill_agent(h);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The moto Python: LOGIN_RELEASE_MOTO_PYTHON, else a `.venv` in the current directory or in a
/// checkout the binary was built in (`target/debug/login-release` -> the checkout).
fn python(ctx: &Context) -> Result<PathBuf> {
    let mut dirs = vec![ctx.repo_dir().to_path_buf()];
    if let Ok(exe) = std::env::current_exe() {
        dirs.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    for d in &dirs {
        if let Ok(p) = find_python(Some(d)) {
            return Ok(p);
        }
    }
    find_python(None)
}

#[derive(Serialize)]
struct UpDoc<'a> {
    state: &'a State,
    groups: Vec<String>,
    exports: Vec<(&'static str, String)>,
}

/// Before starting anything: the directory is free, and the programs are there. Returns the
/// Python that runs the emulator.
fn up_preflight(ctx: &Context, dir: &Path, again: &str) -> Result<PathBuf> {
    if let Some(state) = State::load(dir)? {
        let alive = world::is_ours(state.emulator.pid, &state.emulator.marker);
        return Err(preflight(
            if alive {
                format!("the sandbox is already up in {}", dir.display())
            } else {
                format!(
                    "{} holds a sandbox whose processes are gone",
                    dir.display()
                )
            },
            format!(
                "use it (`eval \"$(login-release sandbox env{again})\"`), or run `login-release sandbox down{again}` first"
            ),
        ));
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(preflight(
            format!("{} exists and is not a sandbox", dir.display()),
            "pick another directory with --dir, or remove it",
        ));
    }
    let python = python(ctx)?;
    for (prog, pkg) in [("git", "git"), ("gpg", "gnupg"), ("gpgconf", "gnupg")] {
        let ok = std::process::Command::new(prog)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(preflight(
                format!("`{prog}` is not installed"),
                format!("install it: apt-get install {pkg}"),
            ));
        }
    }
    Ok(python)
}

async fn up(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let dir = absolute(dir_arg)?;
    let again = hint_dir(dir_arg);
    let python = up_preflight(ctx, &dir, &again)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut rollback = Rollback {
        dir: dir.clone(),
        procs: Vec::new(),
        gnupghome: None,
        armed: true,
    };
    let now = ctx.now();
    let env = "prod";

    ctx.out
        .status("building the git origin and clone (identity-idp-like history)");
    let facts = world::build_repo(&dir, now)?;
    let repo = dir.join("repo");

    ctx.out.status("making a throw-away signing key");
    let gnupghome = dir.join("gnupg");
    rollback.gnupghome = Some(gnupghome.clone());
    let key = world::make_key(&gnupghome)?;
    world::git_config(&repo, "user.signingkey", &key)?;

    ctx.out.status("serving staging's deploy.json");
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("api"))?;
    std::fs::write(www.join("api/deploy.json"), world::deploy_json(&facts, now))?;
    let http = world::start_http(&python, &www, &dir.join("http.log"))?;
    rollback.procs.push(http.clone());

    ctx.out.status("starting the sandbox's GitHub");
    let gh = github::Launch::new(&python, &dir.join("github"), &dir.join("origin.git"))
        .detached()
        .start()?;
    let github_proc = Proc {
        pid: gh.pid(),
        port: gh.port(),
        url: gh.api_url(),
        marker: github::MARKER.to_string(),
    };
    rollback.procs.push(github_proc.clone());
    // The release production runs, so `cut-rc --open-pr` knows the next RC's number.
    let (tag, title) = world::last_release(now);
    gh.remote().seed_release(
        &tag,
        &title,
        &ctx.settings().git.prod_branch,
        "The release stages/prod runs when the sandbox starts.",
    )?;

    let (emulator_proc, seeded) = start_aws(ctx, &python, &dir, &facts, env, &mut rollback).await?;

    let mut state = State {
        version: world::STATE_VERSION,
        dir: dir.clone(),
        env: env.to_string(),
        region: world::REGION.to_string(),
        emulator: emulator_proc,
        http: http.clone(),
        world: None,
        github: Some(github_proc),
        deploy_json_url: http.url.clone(),
        gnupghome,
        signing_key: key,
        repo,
        origin: dir.join("origin.git"),
        git_sha: facts.main_sha.clone(),
        started_at: plan::rfc3339(now),
    };
    // The world reads state.json when it starts.
    state.save()?;
    ctx.out
        .status("starting the world (scheduled actions, instances, traffic)");
    let world_proc = start_world(&dir)?;
    rollback.procs.insert(0, world_proc.clone());
    state.world = Some(world_proc);
    state.save()?;
    rollback.armed = false;

    if ctx.out.is_json() {
        return ctx.out.json(
            "sandbox up",
            &UpDoc {
                state: &state,
                groups: seeded.groups,
                exports: state.env_vars(),
            },
        );
    }
    ctx.out.data(describe(&state, &seeded.groups));
    ctx.out
        .success(format!("the sandbox is up in {}", dir.display()));
    ctx.out.status(format!(
        "next: eval \"$(login-release sandbox env{again})\"; login-release ls-servers -e {env}"
    ));
    Ok(())
}

/// The AWS emulator, a prod-shaped fleet on it, the cloud-init log group, and from then on
/// instances that launch Pending (the world takes them through their life).
async fn start_aws(
    ctx: &Context,
    python: &Path,
    dir: &Path,
    facts: &world::RepoFacts,
    env: &str,
    rollback: &mut Rollback,
) -> Result<(Proc, Seeded)> {
    let progress = ctx.out.progress("starting the AWS emulator");
    let emulator = Emulator::start_detached_logging(python, Some(&dir.join("emulator.log")));
    progress.finish();
    let emulator = emulator?;
    let emulator_proc = Proc {
        pid: emulator.pid,
        port: emulator.port,
        url: emulator.url.clone(),
        marker: "moto-launcher".to_string(),
    };
    rollback.procs.push(emulator_proc.clone());

    ctx.out.status(format!("seeding a {env}-shaped fleet"));
    let world_cfg = WorldConfig::default();
    world_cfg.save(dir)?;
    std::fs::write(timings::config_path(dir), timings::CONFIG_TOML)
        .context("writing the sandbox's config layer")?;
    let aws = Aws::for_endpoint(&emulator.url, world::REGION).await?;
    let seeded = seed(
        &aws,
        ctx.settings(),
        // Production runs what stages/prod holds.
        &FleetSpec::prod_shaped(env, &facts.prod_sha).grace(world_cfg.grace_secs),
    )
    .await?;
    // The environment's cloud-init log group exists before any instance writes to it, as in
    // AWS (watch-migration refuses a missing group).
    aws.logs
        .create_log_group()
        .log_group_name(ctx.settings().cloud_init_log_group(env))
        .send()
        .await
        .map_err(|e| crate::aws::call_failed("CreateLogGroup", &e))?;
    Control::new(&emulator.url, world::REGION)?
        .hold_pending(true)
        .await?;
    Ok((emulator_proc, seeded))
}

/// Starts `sandbox world-run` detached (its own process group, its output in `DIR/world.log`)
/// and waits for its first tick.
fn start_world(dir: &Path) -> Result<Proc> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe().context("finding this program")?;
    let log_path = dir.join("world.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut child = std::process::Command::new(exe)
        .args(["sandbox", sim::MARKER, "--dir"])
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting the world simulator")?;
    let proc = Proc {
        pid: child.id(),
        port: 0,
        url: String::new(),
        marker: sim::MARKER.to_string(),
    };
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(20) {
        if WorldStatus::load(dir)?.is_some_and(|s| s.ticks >= 1) {
            return Ok(proc);
        }
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(failed(
                format!("the world simulator exited ({status}): {last}"),
                format!("see {}", log_path.display()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    world::stop(&proc);
    Err(failed(
        "the world simulator did not finish its first tick within 20s",
        format!("see {}", log_path.display()),
    ))
}

fn describe(state: &State, groups: &[String]) -> String {
    let mut lines = vec![format!(
        "AWS emulator   {} (region {})",
        state.emulator.url, state.region
    )];
    if !groups.is_empty() {
        lines.push(format!("fleet          {}", groups.join(", ")));
    }
    lines.extend([format!("staging        {}", state.deploy_json_url)]);
    if let Some(gh) = &state.github {
        lines.push(format!(
            "GitHub         {} ({}, token {}; `sandbox approve PR` reviews)",
            gh.url,
            github::REPOSITORY,
            github::TOKEN
        ));
    }
    lines.extend([
        format!("git origin     {}", state.origin.display()),
        format!(
            "git clone      {} (main {}, stages/prod {} commits behind)",
            state.repo.display(),
            crate::types::prefix(&state.git_sha, 9),
            world::PROD_BEHIND
        ),
        format!(
            "signing key    {} in {}",
            state.signing_key,
            state.gnupghome.display()
        ),
    ]);
    lines.join("\n")
}

fn down(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let dir = absolute(dir_arg)?;
    let Some(state) = State::load(&dir)? else {
        ctx.out
            .status(format!("no sandbox in {}: nothing to do", dir.display()));
        return Ok(());
    };
    let mut stopped = Vec::new();
    // The world first: it must not see the emulator go and report that as a failure.
    let mut procs: Vec<(&str, &Proc)> = state.world.iter().map(|w| ("world", w)).collect();
    procs.extend([
        ("AWS emulator", &state.emulator),
        ("deploy.json server", &state.http),
    ]);
    procs.extend(state.github.iter().map(|g| ("GitHub", g)));
    for (what, p) in procs {
        if world::stop(p) {
            stopped.push(format!("{what} (pid {})", p.pid));
        }
    }
    world::kill_agent(&state.gnupghome);
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    if stopped.is_empty() {
        ctx.out.status("its processes had already stopped");
    } else {
        ctx.out.status(format!("stopped {}", stopped.join(", ")));
    }
    ctx.out
        .success(format!("the sandbox in {} is down", dir.display()));
    Ok(())
}

fn load_up(dir_arg: &Path) -> Result<State> {
    let dir = absolute(dir_arg)?;
    State::load(&dir)?.ok_or_else(|| {
        preflight(
            format!("no sandbox is up in {}", dir.display()),
            format!(
                "start one with `login-release sandbox up{}`",
                hint_dir(dir_arg)
            ),
        )
    })
}

fn env(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let state = load_up(dir_arg)?;
    if ctx.out.is_json() {
        let vars: serde_json::Map<String, serde_json::Value> = state
            .env_vars()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        return ctx.out.json(
            "sandbox env",
            &serde_json::json!({ "env": vars, "repo": state.repo }),
        );
    }
    ctx.out.data(state.shell_exports());
    Ok(())
}

#[derive(Serialize)]
struct StatusDoc<'a> {
    state: &'a State,
    emulator_running: bool,
    http_running: bool,
    github_running: bool,
    world_running: bool,
    world: Option<&'a WorldStatus>,
    faults: &'a Faults,
    timings: &'a WorldConfig,
}

/// The world's lines of `sandbox status`: what it is doing, its faults and timings, and the
/// last things it did.
fn describe_world(
    world: Option<&WorldStatus>,
    running: bool,
    faults: &Faults,
    cfg: &WorldConfig,
    dir: &Path,
) -> Vec<String> {
    let mut lines = Vec::new();
    match world {
        Some(w) if running => {
            let mut phases: std::collections::BTreeMap<&str, usize> = Default::default();
            for i in w.instances.values() {
                *phases.entry(phase_name(i.phase)).or_default() += 1;
            }
            let counts: Vec<String> = phases.iter().map(|(p, n)| format!("{n} {p}")).collect();
            lines.push(format!(
                "world          running (pid {}), tick {} at {}: {} instances ({})",
                w.pid,
                w.ticks,
                w.last_tick_at,
                w.instances.len(),
                counts.join(", ")
            ));
        }
        Some(w) => lines.push(format!(
            "world          stopped: {}",
            w.stopped_reason
                .clone()
                .unwrap_or_else(|| format!("it exited; see {}", dir.join("world.log").display()))
        )),
        None => lines.push("world          not started".to_string()),
    }
    lines.push(format!(
        "timings        {} ({})",
        cfg.describe(),
        WorldConfig::path(dir).display()
    ));
    let f = faults.describe();
    if f.is_empty() {
        lines.push("faults         none".to_string());
    } else {
        lines.extend(f.iter().map(|l| format!("fault          {l}")));
    }
    if let Some(w) = world {
        lines.extend(w.recent.iter().map(|l| format!("  {l}")));
    }
    lines
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Pending => "pending",
        Phase::Provisioning => "provisioning",
        Phase::Grace => "in grace",
        Phase::Healthy => "healthy",
        Phase::Unhealthy => "unhealthy",
    }
}

fn status(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let state = load_up(dir_arg)?;
    let emu = world::is_ours(state.emulator.pid, &state.emulator.marker);
    let http = world::is_ours(state.http.pid, &state.http.marker);
    let gh = state
        .github
        .as_ref()
        .is_some_and(|g| world::is_ours(g.pid, &g.marker));
    let sim = state
        .world
        .as_ref()
        .is_some_and(|w| world::is_ours(w.pid, &w.marker));
    let world_status = WorldStatus::load(&state.dir)?;
    let faults = Faults::load(&state.dir)?;
    let cfg = WorldConfig::load(&state.dir)?;
    if ctx.out.is_json() {
        ctx.out.json(
            "sandbox status",
            &StatusDoc {
                state: &state,
                emulator_running: emu,
                http_running: http,
                github_running: gh,
                world_running: sim,
                world: world_status.as_ref(),
                faults: &faults,
                timings: &cfg,
            },
        )?;
    } else {
        ctx.out.data(describe(&state, &[]));
        ctx.out.data(format!("started        {}", state.started_at));
        ctx.out
            .data(describe_world(world_status.as_ref(), sim, &faults, &cfg, &state.dir).join("\n"));
    }
    let again = hint_dir(dir_arg);
    let mut down: Vec<&str> = Vec::new();
    if !emu {
        down.push("the AWS emulator");
    }
    if !http {
        down.push("the deploy.json server");
    }
    if !gh {
        down.push("the GitHub server");
    }
    if !sim {
        down.push("the world simulator");
    }
    if !down.is_empty() {
        let why = world_status
            .as_ref()
            .filter(|_| !sim)
            .and_then(|w| w.stopped_reason.clone())
            .map(|r| format!(" (the world stopped because {r})"))
            .unwrap_or_default();
        return Err(preflight(
            format!(
                "the sandbox in {} is broken: {} {} not running{why}",
                state.dir.display(),
                down.join(" and "),
                if down.len() == 1 { "is" } else { "are" }
            ),
            format!("restart it: `login-release sandbox down{again} && login-release sandbox up{again}`"),
        ));
    }
    ctx.out.success("the sandbox is up");
    Ok(())
}

fn break_world(ctx: &Context, fault: Fault) -> Result<()> {
    let dir_arg = match &fault {
        Fault::Migration(d) | Fault::Health(d) => d.dir.clone(),
        Fault::Errors(e) => e.dir.dir.clone(),
    };
    let state = load_up(&dir_arg)?;
    let mut faults = Faults::load(&state.dir)?;
    match fault {
        Fault::Migration(_) => faults.migration = true,
        Fault::Health(_) => faults.health = true,
        Fault::Errors(e) => {
            let old_shas = if e.new_sha {
                fleet_shas(&state.dir)?
            } else {
                Vec::new()
            };
            faults.errors = Some(ErrorFault {
                rate: e.rate,
                old_shas,
            });
        }
    }
    faults.save(&state.dir)?;
    for line in faults.describe() {
        ctx.out.data(format!("fault  {line}"));
    }
    ctx.out.success(format!(
        "the world in {} plays it from its next tick; `login-release sandbox mend{}` clears it",
        state.dir.display(),
        hint_dir(&dir_arg)
    ));
    Ok(())
}

/// The shas the fleet serves now (healthy instances: what `--new-sha` leaves working), from the
/// world's status.
fn fleet_shas(dir: &Path) -> Result<Vec<String>> {
    let Some(w) = WorldStatus::load(dir)? else {
        return Err(preflight(
            "the world has not told which shas the fleet runs yet",
            "wait a second and run it again; `login-release sandbox status` shows the world",
        ));
    };
    let mut shas: Vec<String> = w
        .instances
        .values()
        .filter(|i| i.phase == Phase::Healthy)
        .filter_map(|i| i.sha.clone())
        .collect();
    shas.sort();
    shas.dedup();
    Ok(shas)
}

/// A change lands on main and staging's deploy.json names it (what `deploy start` cuts next).
fn stage(ctx: &Context, args: StageArgs) -> Result<()> {
    let state = load_up(&args.dir.dir)?;
    let message = args.message.replace("\\n", "\n");
    let facts = world::land_change(&state.dir, &message, ctx.now())?;
    world::write_atomic(
        &state.dir.join("www/api/deploy.json"),
        &world::deploy_json(&facts, ctx.now()),
    )?;
    if ctx.out.is_json() {
        return ctx.out.json(
            "sandbox stage",
            &serde_json::json!({ "main": facts.main_sha, "staging": facts.main_sha, "prod": facts.prod_sha }),
        );
    }
    ctx.out.data(format!(
        "landed         {} on main: {}",
        &facts.main_sha[..9],
        message.lines().next().unwrap_or_default()
    ));
    ctx.out
        .success(format!("staging runs {} now", &facts.main_sha[..9]));
    Ok(())
}

fn mend(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let state = load_up(dir_arg)?;
    let faults = Faults::load(&state.dir)?;
    if faults.is_empty() {
        ctx.out.success("no fault to mend");
        return Ok(());
    }
    for line in faults.describe() {
        ctx.out.data(format!("mended  {line}"));
    }
    Faults::default().save(&state.dir)?;
    ctx.out
        .success("the world plays without faults from its next tick");
    Ok(())
}

fn approve(ctx: &Context, args: ApproveArgs) -> Result<()> {
    let state = load_up(&args.dir.dir)?;
    let Some(gh) = &state.github else {
        return Err(preflight(
            format!(
                "the sandbox in {} has no GitHub (it was started by an older login-release)",
                state.dir.display()
            ),
            format!(
                "restart it: `login-release sandbox down{0} && login-release sandbox up{0}`",
                hint_dir(&args.dir.dir)
            ),
        ));
    };
    let remote = github::Remote::new(gh.port);
    let n = match args.pr {
        Some(n) => n,
        None => wait_for_promotion_pr(ctx, &remote, &args)?,
    };
    let method: MergeMethod = args
        .method
        .parse()
        .map_err(|e: String| crate::error::usage(e, "use merge, squash or rebase"))?;
    // With --merge, one request: `deploy` polling the PR must not see it approved and open, or
    // it would merge it itself before the reviewer's chosen method.
    let mut merged = match args.merge {
        true => Some(remote.approve_and_merge(n, method, &args.reviewer)?),
        false => None,
    };
    let review = match merged.as_mut() {
        Some(m) => m
            .as_object_mut()
            .and_then(|o| o.remove("review"))
            .unwrap_or_default(),
        None => remote.approve(n, &args.reviewer)?,
    };
    let mut doc = serde_json::json!({ "pr": n, "reviewer": args.reviewer, "review": review });
    if !ctx.out.is_json() {
        ctx.out
            .data(format!("approved       #{n} as {}", args.reviewer));
    }
    if let Some(merged) = merged {
        let sha = merged["sha"].as_str().unwrap_or_default().to_string();
        let base = merged["pull"]["base"]["ref"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !ctx.out.is_json() {
            ctx.out.data(format!(
                "merged         #{n} into {base} {}: {}",
                match method {
                    MergeMethod::Merge => "with a merge commit",
                    MergeMethod::Squash => "as one squashed commit",
                    MergeMethod::Rebase => "rebased",
                },
                &sha[..9.min(sha.len())]
            ));
        }
        doc["merge"] = merged;
    }
    if ctx.out.is_json() {
        return ctx.out.json("sandbox approve", &doc);
    }
    ctx.out.success(if args.merge {
        format!("#{n} is approved and merged on the sandbox's GitHub")
    } else {
        format!(
            "#{n} is approved; merge it with `login-release sandbox approve {n} --merge{}`",
            hint_dir(&args.dir.dir)
        )
    });
    Ok(())
}

/// The one open PR into the production branch, waiting up to `--wait` for it.
fn wait_for_promotion_pr(
    ctx: &Context,
    remote: &github::Remote,
    args: &ApproveArgs,
) -> Result<u64> {
    let base = &ctx.settings().git.prod_branch;
    let deadline = std::time::Instant::now() + args.wait.0;
    loop {
        let open = remote.open_pulls_into(base)?;
        match open.as_slice() {
            [n] => return Ok(*n),
            [] if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(500))
            }
            [] => {
                return Err(preflight(
                    format!("no promotion PR into {base} is open on the sandbox's GitHub"),
                    format!(
                        "open one (`login-release deploy start`, or `cut-rc --open-pr`), or wait for it: `login-release sandbox approve --wait 2m{}`",
                        hint_dir(&args.dir.dir)
                    ),
                ))
            }
            many => {
                let list: Vec<String> = many.iter().map(|n| format!("#{n}")).collect();
                return Err(crate::error::usage(
                    format!("{} PRs into {base} are open: {}", many.len(), list.join(", ")),
                    "name the one to approve: `login-release sandbox approve N`",
                ));
            }
        }
    }
}

/// Sandbox-only commands refuse anything but the emulator on this machine.
fn require_sandbox_endpoint(what: &str) -> Result<()> {
    let url = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if url.is_empty() || !world::is_loopback_url(&url) {
        return Err(preflight(
            format!(
                "`sandbox {what}` only acts on the sandbox's emulator, and AWS_ENDPOINT_URL is {}",
                if url.is_empty() {
                    "not set".to_string()
                } else {
                    format!("{url}, not a loopback address")
                }
            ),
            "point the shell at the sandbox first: eval \"$(login-release sandbox env)\"",
        ));
    }
    Ok(())
}

async fn seed_more(ctx: &Context, args: SeedArgs) -> Result<()> {
    require_sandbox_endpoint("seed")?;
    const ROLES: &[&str] = &[
        "idp",
        "worker",
        "pivcac",
        "app",
        "analytics",
        "outboundproxy",
        "migration",
    ];
    let roles: Vec<String> = (0..args.groups)
        .map(|i| match ROLES.get(i) {
            Some(r) => r.to_string(),
            None => format!("role{i}"),
        })
        .collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let aws = ctx.aws().await?;
    let progress = ctx.out.progress(format!(
        "seeding {} groups of {} instances in {}",
        args.groups,
        args.size,
        args.env.as_str()
    ));
    let seeded = seed(
        aws,
        ctx.settings(),
        &FleetSpec::uniform(args.env.as_str(), &roles, args.size, &"f".repeat(40)),
    )
    .await;
    progress.finish();
    let seeded = seeded?;
    ctx.out.data(format!(
        "seeded {} (VPC {}): {}",
        args.env.as_str(),
        seeded.vpc_id,
        seeded.groups.join(", ")
    ));
    Ok(())
}
