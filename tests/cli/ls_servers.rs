//! ls-servers against the emulator: columns, sort, filters, target health, output shapes, errors.

use std::process::Output;

use jiff::Timestamp;
use login_release::sandbox::seed::{FleetSpec, GroupSpec};

use crate::support::moto::Moto;
use crate::support::{cmd, stderr, stdout};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Fixture {
    moto: Moto,
    home: tempfile::TempDir,
    /// Two days and two minutes after the seeded instances launched.
    now: String,
}

impl Fixture {
    fn prod() -> Self {
        let moto = Moto::start();
        moto.seed(&FleetSpec::prod_shaped("prod", SHA));
        // Another environment in the same account: -e prod must not list it.
        moto.seed(&FleetSpec {
            env: "int".into(),
            groups: vec![GroupSpec::new("idp", 1, 2)],
        });
        let launched = moto
            .block_on(moto.aws.describe_instances_filtered(vec![]))
            .unwrap()
            .iter()
            .map(|i| i.launch_time)
            .max()
            .unwrap();
        let now = launched
            .checked_add(jiff::SignedDuration::from_secs(2 * 86_400 + 120))
            .unwrap();
        Fixture {
            moto,
            home: tempfile::tempdir().unwrap(),
            now: now.to_string(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = cmd(self.home.path());
        self.moto.env(&mut c);
        c.env("LOGIN_RELEASE_NOW", &self.now)
            .arg("ls-servers")
            .args(args);
        c.output().unwrap()
    }

    fn ids(&self, group: &str) -> Vec<String> {
        let g = self
            .moto
            .block_on(self.moto.aws.describe_groups(&[group.to_string()]))
            .unwrap();
        g[0].instances.iter().map(|i| i.id.clone()).collect()
    }
}

fn tsv_rows(out: &Output) -> Vec<Vec<String>> {
    stdout(out)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn lists_the_environment_sorted_with_every_column() {
    let f = Fixture::prod();
    let out = f.run(&["-e", "prod", "--output", "tsv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = tsv_rows(&out);
    assert_eq!(
        rows[0],
        [
            "instance-id",
            "image-id",
            "name",
            "instance-type",
            "AZ",
            "state",
            "launch-time",
            "uptime",
            "group",
            "protected",
            "lifecycle",
            "asg-health",
            "sha"
        ]
    );
    assert_eq!(rows.len(), 1 + 8, "{}", stdout(&out));
    let names: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        names,
        [
            "asg-prod-idp",
            "asg-prod-idp",
            "asg-prod-idp",
            "asg-prod-idp",
            "asg-prod-pivcac",
            "asg-prod-pivcac",
            "asg-prod-worker",
            "asg-prod-worker"
        ]
    );
    for r in &rows[1..] {
        assert_eq!(r[3], "t3.small");
        assert_eq!(r[5], "running");
        assert!(r[6].ends_with(" UTC") && r[6].len() == 23, "{}", r[6]);
        assert_eq!(r[7], "2d 0h02m");
        assert_eq!(r[9], "protected");
        assert_eq!(r[10], "InService");
        assert_eq!(r[11], "Healthy");
        assert_eq!(r[12], "012345678");
        assert_eq!(r[2].replace("asg-", ""), r[8]);
    }
    assert!(
        stderr(&out).contains("running/desired: prod-idp 4/4, prod-pivcac 2/2, prod-worker 2/2"),
        "{}",
        stderr(&out)
    );
    // Without a chef tag on any row, the sha column goes away.
    let out = f.run(&["-e", "int", "--output", "tsv"]);
    let rows = tsv_rows(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].last().unwrap(), "asg-health");
}

#[test]
fn sorts_by_name_then_launch_time_and_warns_about_extra_instances() {
    let f = Fixture::prod();
    let old = f.ids("prod-idp");
    // Launch times have one-second resolution in the emulator.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    f.moto
        .block_on(
            f.moto
                .aws
                .autoscaling
                .set_desired_capacity()
                .auto_scaling_group_name("prod-idp")
                .desired_capacity(6)
                .send(),
        )
        .unwrap();
    // Desired back to 4 with 6 protected instances still running: the runbook's warning.
    f.moto
        .block_on(
            f.moto
                .aws
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name("prod-idp")
                .desired_capacity(4)
                .send(),
        )
        .unwrap();
    let out = f.run(&["-e", "prod", "-n", "asg-prod-idp", "--output", "ids"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ids: Vec<String> = stdout(&out).trim().split(',').map(str::to_string).collect();
    assert_eq!(ids.len(), 6);
    let mut first_four = ids[..4].to_vec();
    first_four.sort();
    let mut old_sorted = old.clone();
    old_sorted.sort();
    assert_eq!(first_four, old_sorted, "older instances first");
    let err = stderr(&out);
    assert!(err.contains("running/desired: prod-idp 6/4"), "{err}");
    assert!(
        err.contains("warning: prod-idp runs 6 instances but desires 4: remove the old ones before deploying (`login-release scale-remove-old-instances prod idp`)"),
        "{err}"
    );
}

#[test]
fn name_globs_and_states_filter() {
    let f = Fixture::prod();
    // Simple globs (EC2 filter and client check).
    let out = f.run(&["-n", "asg-prod-w*", "--output", "tsv", "--no-header"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = tsv_rows(&out);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[2] == "asg-prod-worker"));
    // Alternatives: filtered here only; two -n add up.
    let out = f.run(&[
        "-n",
        "asg-prod-{idp,pivcac}",
        "-n",
        "asg-int-*",
        "-o",
        "tsv",
        "-H",
    ]);
    assert_eq!(tsv_rows(&out).len(), 4 + 2 + 1);

    // Stop one, terminate another.
    let worker = f.ids("prod-worker");
    let pivcac = f.ids("prod-pivcac");
    f.moto
        .block_on(
            f.moto
                .aws
                .ec2
                .stop_instances()
                .instance_ids(&worker[0])
                .send(),
        )
        .unwrap();
    f.moto
        .block_on(
            f.moto
                .aws
                .ec2
                .terminate_instances()
                .instance_ids(&pivcac[0])
                .send(),
        )
        .unwrap();
    let out = f.run(&["-e", "prod", "-s", "stopped", "-o", "ids"]);
    assert_eq!(stdout(&out).trim(), worker[0]);
    let out = f.run(&["-e", "prod", "-o", "ids"]);
    assert!(
        !stdout(&out).contains(&pivcac[0]),
        "terminated hidden by default"
    );
    assert!(stdout(&out).contains(&worker[0]));
    let out = f.run(&["-e", "prod", "-s", "terminated, stopped", "-o", "ids"]);
    let text = stdout(&out);
    let mut got: Vec<&str> = text.trim().split(',').collect();
    got.sort();
    let mut want = vec![worker[0].as_str(), pivcac[0].as_str()];
    want.sort();
    assert_eq!(got, want);

    // Nothing matches: a status line, empty stdout, success.
    let out = f.run(&["-e", "prod", "-n", "nothing-*"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("No servers found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn layouts_and_text_table() {
    let f = Fixture::prod();
    let out = f.run(&["-e", "prod", "-n", "asg-prod-worker", "--compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["instance-id", "name", "state", "uptime"]);
    assert!(text.lines().nth(1).unwrap().contains("running  2d 0h02m"));

    let out = f.run(&["-e", "prod", "-n", "asg-prod-worker", "--long", "-o", "tsv"]);
    let rows = tsv_rows(&out);
    assert_eq!(rows[0][5..7], ["private-ip", "public-ip"]);
    assert!(rows[1][5].starts_with("10.42."), "{:?}", rows[1]);

    let out = f.run(&["-e", "prod", "--no-header"]);
    assert_eq!(stdout(&out).lines().count(), 8);
    assert!(!stdout(&out).contains("instance-id"));
}

#[test]
fn json_has_every_fact_and_the_summary() {
    let f = Fixture::prod();
    let out = f.run(&["-e", "prod", "-n", "asg-prod-idp", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "ls-servers");
    assert_eq!(doc["filters"]["env"], "prod");
    assert!(doc["filters"]["vpc"].as_str().unwrap().starts_with("vpc-"));
    let inst = doc["instances"].as_array().unwrap();
    assert_eq!(inst.len(), 4);
    let i = &inst[0];
    assert_eq!(i["git_sha"], SHA);
    assert_eq!(i["group"], "prod-idp");
    assert_eq!(i["protected_from_scale_in"], true);
    assert_eq!(i["lifecycle"], "InService");
    assert_eq!(i["uptime"], "2d 0h02m");
    assert_eq!(i["uptime_secs"].as_i64().unwrap() / 60, 2 * 1440 + 2);
    assert!(i["launch_time"]
        .as_str()
        .unwrap()
        .parse::<Timestamp>()
        .is_ok());
    assert!(i.get("target_health").is_none());
    assert_eq!(
        doc["groups"],
        serde_json::json!([{"group": "prod-idp", "running": 4, "desired": 4}])
    );
    // Empty result: still one document.
    let out = f.run(&["-n", "none", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["instances"], serde_json::json!([]));
}

#[test]
fn role_health_keeps_unregistered_instances() {
    let f = Fixture::prod();
    let idp = f.ids("prod-idp");
    let tg = f
        .moto
        .block_on(
            f.moto
                .aws
                .target_groups_tagged(&[("prefix", "prod"), ("health_role", "idp")]),
        )
        .unwrap();
    assert_eq!(tg.len(), 1);
    f.moto
        .block_on(
            f.moto
                .aws
                .elb
                .deregister_targets()
                .target_group_arn(&tg[0])
                .targets(
                    aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                        .id(&idp[0])
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let out = f.run(&["-e", "prod", "-r", "idp", "-o", "tsv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = tsv_rows(&out);
    assert_eq!(rows[0].last().unwrap(), "health");
    assert_eq!(rows.len(), 1 + 4, "only idp's instances");
    for r in &rows[1..] {
        let want = if r[0] == idp[0] {
            "unregistered"
        } else {
            "healthy"
        };
        assert_eq!(r.last().unwrap(), want, "{r:?}");
    }
    let out = f.run(&["-e", "prod", "-r", "idp", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["filters"]["target_groups"], serde_json::json!(tg));
    assert!(doc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["target_health"].is_string()));
}

#[test]
fn role_without_target_group_says_so() {
    let f = Fixture::prod();
    let out = f.run(&["-e", "prod", "-r", "pivcac", "-o", "tsv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = tsv_rows(&out);
    assert_eq!(rows.len(), 1 + 2);
    assert_eq!(rows[0].last().unwrap(), "sha", "no health column");
    assert!(
        stderr(&out).contains("warning: prod-pivcac has no ELBv2 target group (none tagged prefix=prod, health_role=pivcac, none attached)"),
        "{}",
        stderr(&out)
    );
}

fn assert_error(out: &Output, code: i32, error: &str, help: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(&format!("error: {error}\n")), "{err}");
    assert!(err.contains(&format!("help: {help}")), "{err}");
    assert_eq!(stdout(out), "");
}

#[test]
fn bad_input_is_one_error_with_a_hint() {
    let f = Fixture::prod();
    assert_error(
        &f.run(&[]),
        2,
        "must pass at least one filter (-e ENV or -n GLOB)",
        "e.g. `login-release ls-servers -e prod`, or `-n 'asg-prod-idp*'`",
    );
    assert_error(
        &f.run(&["-e", "prd"]),
        3,
        "unknown environment `prd`: no VPC named login-vpc-prd in us-west-2",
        "did you mean `prod`? environments here: int, prod",
    );
    assert_error(
        &f.run(&["-e", "prod", "-s", "running,sleeping"]),
        2,
        "`sleeping` is not an instance state",
        "use a comma-separated list of: pending, running, shutting-down, terminated, stopping, stopped, or all",
    );
    assert_error(
        &f.run(&["-e", "prod", "-r", "ipd"]),
        3,
        "unknown role `ipd` in prod: no group prod-ipd and no target group tagged health_role=ipd",
        "did you mean `idp`? roles in prod: idp, pivcac, worker",
    );
    assert_error(
        &f.run(&["-n", "a[b"]),
        2,
        "bad -n glob `a[b`: unclosed character class; missing ']'",
        "globs use",
    );
    // clap: -r needs -e; --compact and --long exclude each other.
    assert_eq!(f.run(&["-n", "x", "-r", "idp"]).status.code(), Some(2));
    assert_eq!(f.run(&["-e", "prod", "-c", "-l"]).status.code(), Some(2));
}

#[test]
fn unreachable_endpoint_fails_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = cmd(home.path());
    let out = crate::support::aws_env(&mut c, &format!("http://127.0.0.1:{port}"))
        .args(["ls-servers", "-e", "prod"])
        .output()
        .unwrap();
    assert_error(
        &out,
        1,
        "DescribeVpcs failed: the AWS endpoint is unreachable",
        "check the network, AWS_REGION and AWS_ENDPOINT_URL",
    );
}
