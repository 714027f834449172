//! moto's server as the AWS of the tests. Servers are pooled: a test takes one (starting it if
//! none is free), and returns it reset (`POST /moto-api/reset`) when it drops, so the suite starts
//! a server per parallel test thread, not per test. Each test sees an empty AWS.

use std::path::Path;
use std::sync::Mutex;

use login_release::aws::Aws;
use login_release::config::Config;
use login_release::sandbox::emulator::{find_python, Emulator};
use login_release::sandbox::seed::{seed, FleetSpec, Seeded};

static POOL: Mutex<Vec<Emulator>> = Mutex::new(Vec::new());

pub const REGION: &str = "us-west-2";

pub struct Moto {
    emulator: Option<Emulator>,
    /// SDK clients pointed at this emulator, for seeding and for asserting the resulting state.
    pub aws: Aws,
    pub rt: tokio::runtime::Runtime,
}

impl Moto {
    /// An empty emulator. Fails with the fix when moto is not installed.
    pub fn start() -> Self {
        let pooled = POOL.lock().unwrap().pop();
        let emulator = match pooled {
            Some(e) => e,
            None => {
                let python = find_python(Some(Path::new(env!("CARGO_MANIFEST_DIR"))))
                    .unwrap_or_else(|e| {
                        panic!(
                            "{e:#}: run `make test-deps` (installs moto[server]==5.2.5 into .venv)"
                        )
                    });
                Emulator::start(&python)
                    .unwrap_or_else(|e| panic!("cannot start the AWS emulator: {e:#}"))
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aws = rt
            .block_on(Aws::for_endpoint(&emulator.url, REGION))
            .unwrap();
        Moto {
            emulator: Some(emulator),
            aws,
            rt,
        }
    }

    pub fn url(&self) -> &str {
        &self.emulator.as_ref().unwrap().url
    }

    /// Runs a future (seeding, assertions through the SDK) on this fixture's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Seeds a fleet with login.gov's default naming.
    pub fn seed(&self, spec: &FleetSpec) -> Seeded {
        let settings = Config::defaults().settings;
        self.block_on(seed(&self.aws, &settings, spec))
            .expect("seeding the emulator")
    }

    /// Points a command at this emulator with dummy credentials (DESIGN section 7).
    pub fn env<'a>(&self, c: &'a mut assert_cmd::Command) -> &'a mut assert_cmd::Command {
        super::aws_env(c, self.url())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(e) = self.emulator.take() {
            // A server that cannot reset is dropped (killed) instead of reused.
            if e.reset().is_ok() {
                POOL.lock().unwrap().push(e);
            }
        }
    }
}
