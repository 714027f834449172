//! The confirmation prompt on a real terminal (a pseudo-terminal through `script`): the plan is on
//! screen before the question whatever `-q` and `-o` say, and Ctrl-C at the question is a no.

use login_release::sandbox::seed::FleetSpec;

use crate::support::aws_vars;
use crate::support::moto::Moto;
use crate::support::pty::Pty;

const PROMPT: &str = "Type `prod` to continue";

struct Fixture {
    moto: Moto,
    home: tempfile::TempDir,
}

impl Fixture {
    fn prod() -> Self {
        let moto = Moto::start();
        moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
        Fixture {
            moto,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `asg-size prod idp 6` (a production change, so it asks to type `prod`) on a terminal.
    fn asg_size(&self, extra: &[&str]) -> Pty {
        let mut args = vec!["asg-size", "prod", "idp", "6"];
        args.extend_from_slice(extra);
        Pty::spawn(self.home.path(), &aws_vars(self.moto.url()), &args)
    }

    fn desired(&self) -> i32 {
        let g = self
            .moto
            .block_on(self.moto.aws.describe_groups(&["prod-idp".to_string()]))
            .unwrap();
        g[0].desired
    }
}

#[test]
fn ctrl_c_at_the_prompt_declines_with_exit_0() {
    let f = Fixture::prod();
    let before = f.desired();
    let mut pty = f.asg_size(&[]);
    pty.wait_for(PROMPT);
    pty.send("\x03");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("declined: nothing was changed"), "{screen}");
    assert!(!screen.contains("read interrupted"), "{screen}");
    assert!(!screen.contains("error:"), "{screen}");
    assert_eq!(f.desired(), before, "a declined plan changes nothing");
}

#[test]
fn the_plan_is_on_screen_before_the_prompt_even_with_quiet_json() {
    let f = Fixture::prod();
    let before = f.desired();
    let mut pty = f.asg_size(&["-q", "-o", "json"]);
    let screen = pty.wait_for(PROMPT);
    let plan_at = screen
        .find("Plan: Set prod-idp desired to 6")
        .unwrap_or_else(|| panic!("no plan before the prompt:\n{screen}"));
    assert!(plan_at < screen.find(PROMPT).unwrap(), "{screen}");
    assert!(
        screen.contains("UpdateAutoScalingGroup prod-idp"),
        "{screen}"
    );
    // A wrong answer is a no.
    pty.send("staging\r");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(f.desired(), before);
}

#[test]
fn typing_the_environment_applies() {
    let f = Fixture::prod();
    let mut pty = f.asg_size(&[]);
    pty.wait_for(PROMPT);
    pty.send("prod\r");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(f.desired(), 6, "{screen}");
}

/// `asg-recycle prod idp` on a terminal, left at its prompt.
fn recycle_at_the_prompt(f: &Fixture) -> Pty {
    let pty = Pty::spawn(
        f.home.path(),
        &aws_vars(f.moto.url()),
        &["asg-recycle", "prod", "idp"],
    );
    pty.wait_for(PROMPT);
    pty
}

fn scale_out_at(f: &Fixture) -> Vec<jiff::Timestamp> {
    let actions = f
        .moto
        .block_on(f.moto.aws.scheduled_actions(Some("prod-idp")))
        .unwrap();
    actions
        .iter()
        .filter(|a| a.name.starts_with("DelayedScaleOutOnce"))
        .filter_map(|a| a.start)
        .collect()
}

#[test]
fn the_times_are_counted_from_the_confirmation_not_from_the_plan() {
    let f = Fixture::prod();
    let mut pty = recycle_at_the_prompt(&f);
    // The release manager reads the plan for a while before typing.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let answered = jiff::Timestamp::now();
    pty.send("prod\r");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    // The migration's head start (5 minutes) runs from the answer, not from the plan.
    let at = scale_out_at(&f);
    assert_eq!(at.len(), 1, "{screen}");
    let head_start = at[0].duration_since(answered).as_secs();
    assert!(
        head_start >= 5 * 60 - 1,
        "the scale-out is {head_start}s after the answer, the plan's 5m head start shortened by the wait:\n{screen}"
    );
    assert!(screen.contains("later than shown"), "{screen}");
}

#[test]
fn a_second_operator_s_recycle_during_the_prompt_refuses_the_first() {
    let f = Fixture::prod();
    let pty = recycle_at_the_prompt(&f);
    // Another operator recycles the same groups while the first one reads the plan.
    other_operator(&f, &["asg-recycle", "prod", "idp"]);
    let theirs = scale_out_at(&f);
    let screen = confirmed_and_refused(pty);
    assert!(screen.contains("nothing was changed"), "{screen}");
    // The other operator's actions are untouched.
    assert_eq!(scale_out_at(&f), theirs);
}

/// Types `prod` at the prompt; the command must refuse (exit 3) because the groups changed
/// while it waited. The screen, for more checks.
fn confirmed_and_refused(mut pty: Pty) -> String {
    pty.send("prod\r");
    let (code, screen) = pty.finish();
    assert_eq!(code, 3, "{screen}");
    assert!(
        screen.contains("the groups changed while the plan waited for confirmation"),
        "{screen}"
    );
    screen
}

/// Runs `args` with `--yes` as another operator would, from their own shell.
fn other_operator(f: &Fixture, args: &[&str]) {
    let mut other = crate::support::cmd(f.home.path());
    crate::support::aws_env(&mut other, f.moto.url());
    let out = other.arg("--yes").args(args).output().unwrap();
    crate::support::assert_success(&out);
}

#[test]
fn a_recycle_cancelled_and_started_again_during_the_prompt_is_not_cancelled_by_the_old_plan() {
    let f = Fixture::prod();
    other_operator(&f, &["asg-recycle", "prod", "idp"]);
    let pty = Pty::spawn(
        f.home.path(),
        &aws_vars(f.moto.url()),
        &["scale-remove-new-instances", "prod", "idp"],
    );
    pty.wait_for(PROMPT);
    // Meanwhile another operator cancels that recycle and starts a new one: the plan on screen
    // would now cancel theirs.
    std::thread::sleep(std::time::Duration::from_secs(1));
    other_operator(&f, &["scale-remove-new-instances", "prod", "idp"]);
    other_operator(&f, &["asg-recycle", "prod", "idp"]);
    let theirs = scale_out_at(&f);
    assert_eq!(theirs.len(), 1);
    let screen = confirmed_and_refused(pty);
    assert!(
        screen.contains("its recycle now scales down at"),
        "{screen}"
    );
    assert_eq!(scale_out_at(&f), theirs, "the new recycle is untouched");
}

#[test]
fn config_recycle_refuses_when_another_recycle_started_during_the_prompt() {
    let f = Fixture::prod();
    let pty = Pty::spawn(
        f.home.path(),
        &aws_vars(f.moto.url()),
        &["config-recycle", "prod", "idp"],
    );
    pty.wait_for(PROMPT);
    other_operator(&f, &["asg-recycle", "prod", "idp"]);
    let theirs = scale_out_at(&f);
    confirmed_and_refused(pty);
    assert_eq!(scale_out_at(&f), theirs);
}
