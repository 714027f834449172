//! The emulator launcher's control API (`/login-release-sandbox/`, see `moto_launcher.py`): what
//! the world simulator uses to play the instances, which moto does not.

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

/// An instance's lifecycle state in its group, as AWS names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Pending,
    PendingWait,
    InService,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Pending => "Pending",
            Lifecycle::PendingWait => "Pending:Wait",
            Lifecycle::InService => "InService",
        }
    }
}

/// What the load balancer says of a registered target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHealth {
    /// Registered, health checks not passed yet (`initial`, `Elb.RegistrationInProgress`).
    Initial,
    Healthy,
    /// Health checks fail (`unhealthy`, `Target.FailedHealthChecks`).
    Unhealthy,
}

pub struct Control {
    base: String,
    region: String,
    http: reqwest::Client,
}

impl Control {
    pub fn new(emulator_url: &str, region: &str) -> Result<Self> {
        Ok(Control {
            base: format!(
                "{}/login-release-sandbox",
                emulator_url.trim_end_matches('/')
            ),
            region: region.to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .context("building the emulator control client")?,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let resp = self
            .http
            .post(format!("{}/{path}", self.base))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("emulator control {path}"))?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "emulator control {path} answered {status}: {answer}"
        );
        Ok(answer)
    }

    /// New group instances start Pending (on) or InService at once (off, moto's way).
    pub async fn hold_pending(&self, on: bool) -> Result<()> {
        self.post("hold-pending", json!({ "on": on }))
            .await
            .map(drop)
    }

    pub async fn set_instance(
        &self,
        id: &str,
        lifecycle: Lifecycle,
        healthy: Option<bool>,
    ) -> Result<()> {
        let mut body = json!({
            "region": self.region,
            "instance_id": id,
            "lifecycle_state": lifecycle.as_str(),
        });
        if let Some(h) = healthy {
            body["health_status"] = json!(if h { "Healthy" } else { "Unhealthy" });
        }
        self.post("instance", body).await.map(drop)
    }

    pub async fn set_target_health(&self, id: &str, health: TargetHealth) -> Result<()> {
        let body = match health {
            TargetHealth::Healthy => json!({ "instance_id": id, "state": "healthy" }),
            TargetHealth::Initial => json!({
                "instance_id": id,
                "state": "initial",
                "reason": "Elb.RegistrationInProgress",
                "description": "Target registration is in progress",
            }),
            TargetHealth::Unhealthy => json!({
                "instance_id": id,
                "state": "unhealthy",
                "reason": "Target.FailedHealthChecks",
                "description": "Health checks failed",
            }),
        };
        self.post("target-health", body).await.map(drop)
    }
}
