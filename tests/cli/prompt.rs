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
