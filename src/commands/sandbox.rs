//! `sandbox`: Start, inspect or stop the local rehearsal sandbox.
//!
//! `up` starts the AWS emulator (moto's server) and a deploy.json server on loopback, seeds a
//! prod-shaped fleet, builds a git origin and clone with identity-idp-like history and makes a
//! throw-away signing key; `env` prints the exports that point every command at it; `down` stops
//! what `up` started and removes the directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::aws::capacity::{Capacity, Field};
use crate::aws::fleet::DELAYED_SCALE_OUT;
use crate::aws::Aws;
use crate::context::{Context, Go};
use crate::error::{failed, preflight};
use crate::plan::{self, Plan, Step};
use crate::sandbox::emulator::{find_python, Emulator};
use crate::sandbox::seed::{seed, FleetSpec};
use crate::sandbox::world::{self, Proc, State};
use crate::types::Env;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Practise a release by hand:
  login-release sandbox up
  eval \"$(login-release sandbox env)\"
  login-release ls-servers -e prod
  login-release asg-size prod idp
  login-release sandbox down")]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Start the sandbox: AWS emulator with a prod-shaped fleet, git origin and clone, staging
    /// deploy.json, signing key.
    Up(DirArg),
    /// Stop the sandbox's processes and remove its directory.
    Down(DirArg),
    /// Print `export` lines for `eval "$(login-release sandbox env)"`.
    Env(DirArg),
    /// Show what runs and where (exit 3 when the sandbox is not up).
    Status(DirArg),
    /// Make the change a pending scale-out action would make (the emulator never runs
    /// scheduled actions). Only against a loopback AWS_ENDPOINT_URL.
    ScaleOut(ScaleOutArgs),
    /// Terminate the unprotected instances above each group's desired capacity, as AWS does
    /// after scale-remove-*-instances (the emulator does not). Only against a loopback
    /// AWS_ENDPOINT_URL.
    Retire(RetireArgs),
    /// Write the cloud-init log a provisioning migration instance would write (the emulator
    /// runs no instance), so `watch-migration` has something to follow. Loopback only.
    Provision(ProvisionArgs),
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
pub struct ScaleOutArgs {
    pub env: Env,
    pub role: String,
    /// New desired capacity [default: what the group's pending action sets].
    pub desired: Option<u32>,
    /// The pending scheduled action to carry out (deleted afterwards, as AWS deletes a
    /// one-time action once it ran).
    #[arg(long, default_value = DELAYED_SCALE_OUT, value_name = "NAME")]
    pub action: String,
    /// Tag the instances launched from now on with this deployed sha (`gitsha:<role>`), as chef
    /// does on instances that boot the new release.
    #[arg(long, value_name = "SHA")]
    pub gitsha: Option<crate::types::GitSha>,
}

#[derive(Debug, clap::Args)]
pub struct RetireArgs {
    pub env: Env,
}

#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    pub env: Env,
    /// End with the lifecycle ABANDON a failed provision sends, instead of the success marker.
    #[arg(long)]
    pub fail: bool,
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
        Sub::ScaleOut(a) => scale_out(ctx, a).await,
        Sub::Retire(a) => retire(ctx, a).await,
        Sub::Provision(a) => provision(ctx, a).await,
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

async fn up(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let dir = absolute(dir_arg)?;
    let again = hint_dir(dir_arg);
    if let Some(state) = State::load(&dir)? {
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
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        return Err(preflight(
            format!("{} exists and is not a sandbox", dir.display()),
            "pick another directory with --dir, or remove it",
        ));
    }
    // Preflight the programs before starting anything.
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

    let progress = ctx.out.progress("starting the AWS emulator");
    let emulator = Emulator::start_detached_logging(&python, Some(&dir.join("emulator.log")));
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
    let aws = Aws::for_endpoint(&emulator.url, world::REGION).await?;
    let seeded = seed(
        &aws,
        ctx.settings(),
        // Production runs what stages/prod holds; the release's instances get main's sha.
        &FleetSpec::prod_shaped(env, &facts.prod_sha),
    )
    .await?;

    let state = State {
        version: world::STATE_VERSION,
        dir: dir.clone(),
        env: env.to_string(),
        region: world::REGION.to_string(),
        emulator: emulator_proc,
        http: http.clone(),
        deploy_json_url: http.url.clone(),
        gnupghome,
        signing_key: key,
        repo,
        origin: dir.join("origin.git"),
        git_sha: facts.main_sha.clone(),
        started_at: plan::rfc3339(now),
    };
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

fn describe(state: &State, groups: &[String]) -> String {
    let mut lines = vec![format!(
        "AWS emulator   {} (region {})",
        state.emulator.url, state.region
    )];
    if !groups.is_empty() {
        lines.push(format!("fleet          {}", groups.join(", ")));
    }
    lines.extend([
        format!("staging        {}", state.deploy_json_url),
        format!("git origin     {}", state.origin.display()),
        format!(
            "git clone      {} (main {}, stages/prod {} commits behind)",
            state.repo.display(),
            &state.git_sha[..9.min(state.git_sha.len())],
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
    for (what, p) in [
        ("AWS emulator", &state.emulator),
        ("deploy.json server", &state.http),
    ] {
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
}

fn status(ctx: &Context, dir_arg: &Path) -> Result<()> {
    let state = load_up(dir_arg)?;
    let emu = world::is_ours(state.emulator.pid, &state.emulator.marker);
    let http = world::is_ours(state.http.pid, &state.http.marker);
    if ctx.out.is_json() {
        ctx.out.json(
            "sandbox status",
            &StatusDoc {
                state: &state,
                emulator_running: emu,
                http_running: http,
            },
        )?;
    } else {
        ctx.out.data(describe(&state, &[]));
        ctx.out.data(format!("started        {}", state.started_at));
    }
    let again = hint_dir(dir_arg);
    if !(emu && http) {
        return Err(preflight(
            format!(
                "the sandbox in {} is broken: {} not running",
                state.dir.display(),
                match (emu, http) {
                    (false, false) => "the AWS emulator and the deploy.json server are",
                    (false, true) => "the AWS emulator is",
                    _ => "the deploy.json server is",
                }
            ),
            format!("restart it: `login-release sandbox down{again} && login-release sandbox up{again}`"),
        ));
    }
    ctx.out.success("the sandbox is up");
    Ok(())
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

/// What AWS does once instances lose their scale-in protection while a group runs more than it
/// desires: it terminates them. Each goes with "decrement desired", then desired is set back, so
/// the emulator launches no replacement.
async fn retire(ctx: &Context, args: RetireArgs) -> Result<()> {
    require_sandbox_endpoint("retire")?;
    let aws = ctx.aws().await?;
    let groups = aws.groups_with_prefix(&format!("{}-", args.env)).await?;
    let mut plan = Plan::new(format!(
        "Simulate AWS retiring unprotected surplus instances in {}",
        args.env
    ))
    .target(
        "endpoint",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
    );
    let mut work = Vec::new();
    for g in &groups {
        let surplus = usize::try_from(g.instances.len() as i64 - i64::from(g.desired)).unwrap_or(0);
        let going: Vec<String> = g
            .instances
            .iter()
            .filter(|i| !i.protected)
            .take(surplus)
            .map(|i| i.id.clone())
            .collect();
        if going.is_empty() {
            continue;
        }
        plan.push(Step::new(
            "DetachInstances+TerminateInstances",
            &g.name,
            format!(
                "{} (unprotected, above desired {})",
                going.join(", "),
                g.desired
            ),
        ));
        work.push((g.name.clone(), g.desired, going));
    }
    if work.is_empty() {
        ctx.out
            .success(format!("nothing to retire in {}", args.env));
        return Ok(());
    }
    if ctx.confirm(&plan)? != Go::Apply {
        return Ok(());
    }
    for (group, desired, ids) in &work {
        // Detach (decrementing desired) then terminate: the emulator's
        // TerminateInstanceInAutoScalingGroup answer does not parse in the SDK.
        aws.autoscaling
            .detach_instances()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(ids.clone()))
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(|e| crate::aws::call_failed("DetachInstances", &e))?;
        aws.ec2
            .terminate_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| crate::aws::call_failed("TerminateInstances", &e))?;
        aws.update_group_capacity(group, Field::Desired, *desired)
            .await?;
        ctx.out
            .success(format!("{group}: retired {}", ids.join(", ")));
    }
    Ok(())
}

/// The lines a migration instance's provision.sh writes to its cloud-init output, ending with the
/// success marker from the settings (or a failed lifecycle action).
fn provision_lines(success_marker: &str, instance: &str, group: &str, fail: bool) -> Vec<String> {
    let mut lines: Vec<String> = [
        "Cloud-init v. 23.1.2 running 'modules:final'",
        "provision.sh: running identity-devops-private",
        "All done! provision.sh finished for identity-devops-private",
        "Starting Chef Infra Client, version 18.2.7",
        "Recipe: login_dot_gov::migrate",
        "  * execute[rake db:create db:migrate] action run",
        "== 20261120182233 AddLinkedAccountsTable: migrating ============================",
        "-- create_table(:linked_accounts)",
        "== 20261120182233 AddLinkedAccountsTable: migrated (0.0123s) ===================",
        "    - execute bundle exec rake db:create db:migrate",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    if fail {
        lines.push(
            "    ================================================================================"
                .into(),
        );
        lines.push(
            "    Error executing action `run` on resource 'execute[rake db:create db:migrate]'"
                .into(),
        );
        lines.push(format!(
            "Instance {instance} for ASG {group} was ABANDONED.  Fatal error in provisioning."
        ));
    } else {
        lines.push(
            "Chef Infra Client finished, 212/498 resources updated in 04 minutes 12 seconds".into(),
        );
        lines.push("lifecycle hook: CONTINUE".into());
        lines.push(success_marker.to_string());
    }
    lines
}

async fn provision(ctx: &Context, args: ProvisionArgs) -> Result<()> {
    require_sandbox_endpoint("provision")?;
    let aws = ctx.aws().await?;
    let s = ctx.settings();
    let env = args.env.as_str();
    let group = s.migration_group(env);
    let groups = aws.describe_groups(std::slice::from_ref(&group)).await?;
    let ids: Vec<String> = groups
        .iter()
        .flat_map(|g| g.instances.iter().map(|i| i.id.clone()))
        .collect();
    let newest = aws
        .describe_instances(&ids)
        .await?
        .into_iter()
        .filter(|i| i.state == "running")
        .max_by_key(|i| i.launch_time);
    let Some(instance) = newest else {
        return Err(preflight(
            format!("{group} has no running instance to provision"),
            format!("start one the runbook's way: `login-release asg-recycle {env} idp`"),
        ));
    };
    let log_group = s.cloud_init_log_group(env);
    let lines = provision_lines(&s.migration.success_marker, &instance.id, &group, args.fail);
    let mut plan = Plan::new(format!(
        "Simulate the provisioning log of {} ({group})",
        instance.id
    ))
    .target(
        "endpoint",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
    );
    plan.push(Step::new(
        "PutLogEvents",
        format!("{log_group} {}", instance.id),
        format!(
            "{} lines, ending {}",
            lines.len(),
            if args.fail {
                "ABANDONED"
            } else {
                "with the success marker"
            }
        ),
    ));
    if ctx.confirm(&plan)? != Go::Apply {
        return Ok(());
    }
    // The group and stream may exist from an earlier run; only "already exists" is fine.
    let exists = |e: &str| e.contains("ResourceAlreadyExists");
    if let Err(e) = aws
        .logs
        .create_log_group()
        .log_group_name(&log_group)
        .send()
        .await
    {
        let m = crate::aws::sdk_message(&e);
        if !exists(&m) {
            return Err(crate::aws::call_failed("CreateLogGroup", &e));
        }
    }
    if let Err(e) = aws
        .logs
        .create_log_stream()
        .log_group_name(&log_group)
        .log_stream_name(&instance.id)
        .send()
        .await
    {
        let m = crate::aws::sdk_message(&e);
        if !exists(&m) {
            return Err(crate::aws::call_failed("CreateLogStream", &e));
        }
    }
    let start = ctx.now().as_millisecond();
    let mut req = aws
        .logs
        .put_log_events()
        .log_group_name(&log_group)
        .log_stream_name(&instance.id);
    for (i, line) in lines.iter().enumerate() {
        req = req.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + i as i64 * 1000)
                .message(line)
                .build()
                .context("building a log event")?,
        );
    }
    req.send()
        .await
        .map_err(|e| crate::aws::call_failed("PutLogEvents", &e))?;
    ctx.out.success(format!(
        "wrote {} lines to {log_group} {}",
        lines.len(),
        instance.id
    ));
    Ok(())
}

async fn scale_out(ctx: &Context, args: ScaleOutArgs) -> Result<()> {
    require_sandbox_endpoint("scale-out")?;
    let env = args.env.as_str();
    let name = ctx.settings().asg_name(env, &args.role);
    let aws = ctx.aws().await?;
    let want = [name.clone()];
    let (groups, actions) = tokio::try_join!(
        aws.describe_groups(&want),
        aws.scheduled_actions(Some(&name))
    )?;
    let Some(group) = groups.first() else {
        return Err(preflight(
            format!("no Auto Scaling Group {name} in the sandbox"),
            format!("see the groups with `login-release ls-servers -e {env}`"),
        ));
    };
    let action = actions
        .iter()
        .find(|a| a.group == name && a.name == args.action);
    let desired = match (args.desired, action.and_then(|a| a.desired)) {
        (Some(d), _) => i32::try_from(d).unwrap_or(i32::MAX),
        (None, Some(d)) => d,
        (None, None) => {
            return Err(preflight(
                format!("{name} has no pending {} action to carry out", args.action),
                format!(
                    "give the size: `login-release sandbox scale-out {env} {} COUNT`",
                    args.role
                ),
            ))
        }
    };
    let before = Capacity::of(group);
    if desired > before.max || desired < before.min {
        return Err(preflight(
            format!(
                "desired {desired} is outside {name}'s min {} and max {}",
                before.min, before.max
            ),
            format!(
                "change the limits first with `login-release asg-size {env} {} N --max`",
                args.role
            ),
        ));
    }
    let mut plan = Plan::new(format!("Simulate a scheduled scale-out of {name}")).target(
        "endpoint",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
    );
    let source = match action {
        Some(a) if args.desired.is_none() => format!(
            " (what {} would do{})",
            a.name,
            a.start
                .map(|t| format!(" at {}", plan::when(t, ctx.now())))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    if let Some(sha) = &args.gitsha {
        plan.push(Step::new(
            "CreateOrUpdateTags",
            &name,
            format!(
                "gitsha:{} = {} for the instances it launches",
                args.role,
                sha.short()
            ),
        ));
    }
    plan.push(Step::new(
        "UpdateAutoScalingGroup",
        &name,
        format!("desired {} -> {desired}{source}", before.desired),
    ));
    if let Some(a) = action.filter(|_| args.desired.is_none()) {
        plan.push(Step::new(
            "DeleteScheduledAction",
            &name,
            format!("{} (one-time actions disappear once they ran)", a.name),
        ));
    }
    match ctx.confirm(&plan)? {
        Go::Apply => {}
        Go::DryRun | Go::Declined => return Ok(()),
    }
    if let Some(sha) = &args.gitsha {
        let tag = aws_sdk_autoscaling::types::Tag::builder()
            .resource_id(&name)
            .resource_type("auto-scaling-group")
            .key(format!("gitsha:{}", args.role))
            .value(sha.as_str())
            .propagate_at_launch(true)
            .build();
        aws.autoscaling
            .create_or_update_tags()
            .tags(tag)
            .send()
            .await
            .map_err(|e| crate::aws::call_failed("CreateOrUpdateTags", &e))?;
    }
    aws.update_group_capacity(&name, Field::Desired, desired)
        .await?;
    if let Some(a) = action.filter(|_| args.desired.is_none()) {
        aws.autoscaling
            .delete_scheduled_action()
            .auto_scaling_group_name(&name)
            .scheduled_action_name(&a.name)
            .send()
            .await
            .map_err(|e| crate::aws::call_failed("DeleteScheduledAction", &e))?;
    }
    let after = aws.describe_groups(&want).await?;
    let Some(g) = after.first().filter(|g| g.desired == desired) else {
        return Err(failed(
            format!("{name} did not take desired {desired}"),
            format!("check it with `login-release asg-size {env} {}`", args.role),
        ));
    };
    ctx.out.data(format!(
        "{name}: desired {}, {} instances",
        g.desired,
        g.instances.len()
    ));
    ctx.out.success(format!("{name} scaled to {desired}"));
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
