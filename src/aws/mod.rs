//! AWS: clients built from the default credential chain, the fleet model, and adapters.

use anyhow::Result;
use aws_config::BehaviorVersion;
use tokio::sync::OnceCell;

use crate::error::{AppError, Kind};

/// Every AWS client the tool uses, sharing one loaded configuration.
pub struct Aws {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub sts: aws_sdk_sts::Client,
    pub region: String,
    account: OnceCell<String>,
}

impl Aws {
    /// The default chain: environment first (so `aws-vault exec` works), then profiles and SSO.
    /// `AWS_REGION`, `AWS_PROFILE` and `AWS_ENDPOINT_URL` are honoured by aws-config itself.
    pub async fn load() -> Result<Self> {
        let conf = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let region = conf.region().map(|r| r.to_string()).ok_or_else(|| {
            AppError::new(Kind::Preflight, "no AWS region is configured")
                .with_hint("set AWS_REGION (login.gov uses us-west-2), or run under `aws-vault exec <profile> --`")
        })?;
        Ok(Aws {
            autoscaling: aws_sdk_autoscaling::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
            ssm: aws_sdk_ssm::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
            sts: aws_sdk_sts::Client::new(&conf),
            region,
            account: OnceCell::new(),
        })
    }

    /// The account id, looked up once (every plan shows it).
    pub async fn account(&self) -> Result<&str> {
        self.account
            .get_or_try_init(|| async {
                let out = self.sts.get_caller_identity().send().await.map_err(|e| {
                    AppError::new(Kind::Failed, format!("cannot identify the AWS account: {}", sdk_message(&e)))
                        .with_hint("check your credentials: run under `aws-vault exec <profile> --`, or set AWS_PROFILE")
                })?;
                Ok::<_, anyhow::Error>(out.account().unwrap_or("unknown").to_string())
            })
            .await
            .map(String::as_str)
    }
}

/// The most useful text of an SDK error: the service's message, else the dispatch failure's.
pub fn sdk_message<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => e.to_string(),
            }
        }
        SdkError::DispatchFailure(df) => {
            if df.is_io() || df.is_timeout() {
                "the AWS endpoint is unreachable".to_string()
            } else {
                let mut s = String::from("request failed");
                let mut src: Option<&dyn std::error::Error> = std::error::Error::source(err);
                while let Some(e) = src {
                    s = format!("{s}: {e}");
                    src = e.source();
                }
                s
            }
        }
        SdkError::TimeoutError(_) => "the AWS request timed out".to_string(),
        other => {
            let mut s = other.to_string();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(other);
            while let Some(e) = src {
                s = format!("{s}: {e}");
                src = e.source();
            }
            s
        }
    }
}
