//! ssm-command and passenger-restart against the emulator: the command sent (document, targets by
//! tag, limits), the per-instance report, the preflight refusals and the production guard. The
//! emulator finishes every invocation with Success at once; failures, pending invocations and
//! throttling are covered by the unit tests of `ssm::tracker` and `logs::pace`.

use std::time::Duration;

use login_release::sandbox::seed::{FleetSpec, GroupSpec};

use crate::support::moto::Moto;
use crate::support::{cmd, stderr, stdout};

fn seed(moto: &Moto, env: &str) {
    moto.seed(&FleetSpec {
        env: env.into(),
        groups: vec![
            GroupSpec::new("idp", 3, 8),
            GroupSpec::new("worker", 1, 4),
            GroupSpec::new("migration", 0, 2)
                .tag("utility", "true")
                .unprotected(),
        ],
    });
}

pub fn document(moto: &Moto, name: &str) {
    let content = serde_json::json!({
        "schemaVersion": "2.2",
        "description": "Restart passenger",
        "mainSteps": [{
            "action": "aws:runShellScript",
            "name": "restart",
            "inputs": {"runCommand": ["passenger-config restart-app /srv/idp/current"]}
        }]
    });
    moto.block_on(
        moto.aws
            .ssm
            .create_document()
            .name(name)
            .content(content.to_string())
            .document_type(aws_sdk_ssm::types::DocumentType::Command)
            .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
            .send(),
    )
    .unwrap();
}

fn run(moto: &Moto, home: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut c = cmd(home);
    moto.env(&mut c);
    c.args(args)
        .args(["--poll-interval", "50ms"])
        .timeout(Duration::from_secs(60));
    c.output().unwrap()
}

pub fn commands(moto: &Moto) -> Vec<aws_sdk_ssm::types::Command> {
    moto.block_on(moto.aws.ssm.list_commands().send())
        .unwrap()
        .commands()
        .to_vec()
}

fn running(moto: &Moto, group: &str) -> Vec<String> {
    let mut ids: Vec<String> = moto
        .block_on(moto.aws.describe_groups(&[group.to_string()]))
        .unwrap()[0]
        .instances
        .iter()
        .map(|i| i.id.clone())
        .collect();
    ids.sort();
    ids
}

#[test]
fn sends_the_document_to_the_groups_instances_by_tag_and_reports_each() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, "staging");
    document(&moto, "staging-ssm-cmd-puma-restart");
    let ids = running(&moto, "staging-idp");
    let out = run(
        &moto,
        home.path(),
        &[
            "ssm-command",
            "staging",
            "idp",
            "puma-restart",
            "--yes",
            "--max-concurrency",
            "1",
            "--max-errors",
            "10%",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let text = stdout(&out);
    assert!(text.starts_with(&format!(
        "Plan: Run staging-ssm-cmd-puma-restart on staging-idp\n  account 123456789012, region us-west-2\n  \
         1. SendCommand staging-ssm-cmd-puma-restart: targets tag:aws:autoscaling:groupName=staging-idp (3 running instances), \
         max concurrency 1, max errors 10%, output to CloudWatch Logs aws-ssm-sessions-staging\n  \
         note: instances: {}\n",
        ids.join(", ")
    )), "{text}");
    // The table: one row per instance, in id order.
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("INSTANCE"))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    for (row, id) in rows[1..].iter().zip(&ids) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[0], id);
        assert_eq!(cells[1], "Success");
    }
    assert!(
        err.ends_with("ok: staging-ssm-cmd-puma-restart succeeded on 3 instances of staging-idp\n"),
        "{err}"
    );

    // What was sent, read back through the SDK.
    let sent = commands(&moto);
    assert_eq!(sent.len(), 1);
    let c = &sent[0];
    assert!(err.contains(&format!(
        "sent command {} (staging-ssm-cmd-puma-restart to staging-idp)",
        c.command_id().unwrap()
    )));
    assert_eq!(c.document_name(), Some("staging-ssm-cmd-puma-restart"));
    assert_eq!(c.targets().len(), 1);
    assert_eq!(c.targets()[0].key(), Some("tag:aws:autoscaling:groupName"));
    assert_eq!(c.targets()[0].values(), ["staging-idp"]);
    assert_eq!(c.max_concurrency(), Some("1"));
    assert_eq!(c.max_errors(), Some("10%"));
    assert_eq!(c.comment(), Some("login-release ssm-command staging idp"));
    assert_eq!(c.target_count(), 3);
}

#[test]
fn json_reports_the_command_and_every_invocation() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, "staging");
    document(&moto, "staging-ssm-cmd-passenger-restart");
    let out = run(
        &moto,
        home.path(),
        &[
            "passenger-restart",
            "staging",
            "worker",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "passenger-restart");
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["command_id"], commands(&moto)[0].command_id().unwrap());
    assert_eq!(doc["summary"]["succeeded"], 1);
    assert_eq!(doc["summary"]["command_status"], "Success");
    let invs = doc["invocations"].as_array().unwrap();
    assert_eq!(invs.len(), 1);
    assert_eq!(
        invs[0]["instance"],
        running(&moto, "staging-worker")[0].as_str()
    );
    assert_eq!(invs[0]["status"], "Success");
    assert_eq!(doc["plan"]["steps"][0]["params"]["max_concurrency"], "25%");
    assert_eq!(doc["plan"]["steps"][0]["params"]["max_errors"], "0");
    // Staging is not production: no warning in the plan.
    assert!(!doc["plan"]["notes"].to_string().contains("NOT safe"));
    // The default limits went out with the command.
    let c = &commands(&moto)[0];
    assert_eq!(c.max_concurrency(), Some("25%"));
    assert_eq!(c.max_errors(), Some("0"));
}

#[test]
fn every_preflight_problem_is_reported_at_once_and_nothing_is_sent() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, "prod");
    document(&moto, "prod-ssm-cmd-passenger-restart");
    document(&moto, "prod-ssm-cmd-puma-restart");

    let out = run(
        &moto,
        home.path(),
        &["ssm-command", "prod", "idp", "pasenger-restart", "--yes"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: SSM document `prod-ssm-cmd-pasenger-restart` does not exist\n\
         help: did you mean `passenger-restart`? command documents for prod: passenger-restart, puma-restart\n"
    );

    let out = run(
        &moto,
        home.path(),
        &["ssm-command", "prod", "migration", "puma-restart", "--yes"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: prod-migration has no running instances to run the command on\n\
         help: `login-release ls-servers -e prod` shows what runs\n"
    );

    let out = run(
        &moto,
        home.path(),
        &["ssm-command", "prod", "idpp", "restart", "--yes"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: 2 preflight checks failed\n\
         help: fix each of these, then run again:\n  \
         - SSM document `prod-ssm-cmd-restart` does not exist (did you mean `puma-restart`? command documents for prod: passenger-restart, puma-restart)\n  \
         - Auto Scaling group prod-idpp does not exist (did you mean `prod-idp`? groups in prod: prod-idp, prod-migration, prod-worker)\n"
    );

    let out = run(
        &moto,
        home.path(),
        &[
            "ssm-command",
            "prod",
            "idp",
            "puma-restart",
            "--max-concurrency",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(
        "`0` is not a concurrency: a number of instances (1 or more) or a percentage like 25%"
    ));

    assert!(commands(&moto).is_empty());
}

#[test]
fn dry_run_and_no_terminal_send_nothing() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, "staging");
    document(&moto, "staging-ssm-cmd-puma-restart");
    let out = run(
        &moto,
        home.path(),
        &["ssm-command", "staging", "idp", "puma-restart", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("Plan: Run staging-ssm-cmd-puma-restart on staging-idp\n"));
    assert_eq!(stderr(&out), "dry run: nothing was changed\n");

    let out = run(
        &moto,
        home.path(),
        &["ssm-command", "staging", "idp", "puma-restart"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: confirmation needed, but there is no terminal to ask on\n\
         help: read the plan above (or run with --dry-run), then re-run with --yes\n"
    );
    assert!(commands(&moto).is_empty());
}

#[test]
fn passenger_restart_refuses_production_without_allow_prod() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, "prod");
    document(&moto, "prod-ssm-cmd-passenger-restart");

    let out = run(
        &moto,
        home.path(),
        &["passenger-restart", "prod", "idp", "--yes"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        stderr(&out),
        "error: refusing to restart passenger in prod: it drops live requests instead of rotating instances\n\
         help: recycle instead (`login-release asg-recycle prod idp`); in an emergency, re-run with --allow-prod\n"
    );
    assert!(commands(&moto).is_empty());

    let out = run(
        &moto,
        home.path(),
        &["passenger-restart", "prod", "idp", "--allow-prod", "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(
        "  note: WARNING: passenger-restart is NOT safe for production: it restarts passenger on each instance in place and drops the requests in flight instead of rotating instances; use it only in an emergency\n"
    ));
    let sent = commands(&moto);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].document_name(),
        Some("prod-ssm-cmd-passenger-restart")
    );
    assert_eq!(sent[0].targets()[0].values(), ["prod-idp"]);
}

/// The guard is the document's: `ssm-command prod idp passenger-restart` meets the refusal of
/// `passenger-restart prod idp`, and the setting decides which documents are guarded.
#[test]
fn guarded_documents_need_allow_prod_however_invoked() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, "prod");
    document(&moto, "prod-ssm-cmd-passenger-restart");
    document(&moto, "prod-ssm-cmd-puma-restart");

    let out = run(
        &moto,
        home.path(),
        &["ssm-command", "prod", "idp", "passenger-restart", "--yes"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: refusing to restart passenger in prod: it drops live requests instead of rotating instances\n\
         help: recycle instead (`login-release asg-recycle prod idp`); in an emergency, re-run with --allow-prod\n"
    );
    assert!(commands(&moto).is_empty());

    // A document the setting names is guarded too; one it does not name is not.
    let mut c = cmd(home.path());
    moto.env(&mut c);
    let out = c
        .env("LOGIN_RELEASE_SSM_GUARDED_DOCUMENTS", "puma-restart")
        .args(["ssm-command", "prod", "idp", "puma-restart", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: refusing to run `puma-restart` in prod"));
    assert!(commands(&moto).is_empty());

    let out = run(
        &moto,
        home.path(),
        &[
            "ssm-command",
            "prod",
            "idp",
            "passenger-restart",
            "--allow-prod",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("  note: WARNING: passenger-restart is NOT safe for production"));
    assert_eq!(commands(&moto).len(), 1);
}
