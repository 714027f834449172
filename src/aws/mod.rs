//! AWS: clients built from the default credential chain, the fleet model, and adapters.

pub mod apply;
pub mod capacity;
pub mod fleet;
pub mod inventory;
pub mod listing;
pub mod outcome;

use anyhow::Result;
use aws_config::BehaviorVersion;
use tokio::sync::OnceCell;

use crate::error::{AppError, Kind};

/// The SDK sets no read timeout by default: an endpoint that accepts a request and never answers
/// would hang a release step forever. None of our calls is long-running, so a minute per attempt
/// (retried by the standard retry mode) and two minutes per operation are generous.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(60))
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build()
}

/// The SDK's HTTPS client on the one TLS stack the binary links (rustls on ring, as reqwest):
/// without it aws-config would want its default client, which brings aws-lc.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Every AWS client the tool uses, sharing one loaded configuration.
pub struct Aws {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub sts: aws_sdk_sts::Client,
    pub region: String,
    /// The caller identity (account id, ARN), looked up once.
    caller: OnceCell<(String, String)>,
}

impl Aws {
    /// The default chain: environment first (so `aws-vault exec` works), then profiles and SSO.
    /// `AWS_REGION`, `AWS_PROFILE` and `AWS_ENDPOINT_URL` are honoured by aws-config itself.
    pub async fn load() -> Result<Self> {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts())
            .http_client(https_client())
            .load()
            .await;
        let region = conf.region().map(|r| r.to_string()).ok_or_else(|| {
            AppError::new(Kind::Preflight, "no AWS region is configured")
                .with_hint("set AWS_REGION (login.gov uses us-west-2), or run under `aws-vault exec <profile> --`")
        })?;
        Ok(Self::from_conf(&conf, region))
    }

    fn from_conf(conf: &aws_config::SdkConfig, region: String) -> Self {
        Aws {
            autoscaling: aws_sdk_autoscaling::Client::new(conf),
            ec2: aws_sdk_ec2::Client::new(conf),
            ssm: aws_sdk_ssm::Client::new(conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
            region,
            caller: OnceCell::new(),
        }
    }

    /// Clients for a given endpoint with dummy credentials: the local emulator (tests, sandbox).
    pub async fn for_endpoint(url: &str, region: &str) -> Result<Self> {
        let creds = aws_sdk_sts::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "login-release-sandbox",
        );
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts())
            .http_client(https_client())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(url)
            .credentials_provider(creds)
            .load()
            .await;
        Ok(Self::from_conf(&conf, region.to_string()))
    }

    /// The caller identity, looked up once: the account every plan shows and the ARN a release
    /// record names its actor by.
    async fn caller(&self) -> Result<&(String, String)> {
        self.caller
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| call_failed("GetCallerIdentity", &e))?;
                Ok::<_, anyhow::Error>((
                    out.account().unwrap_or("unknown").to_string(),
                    out.arn().unwrap_or("unknown").to_string(),
                ))
            })
            .await
    }

    /// The account id (every plan shows it).
    pub async fn account(&self) -> Result<&str> {
        Ok(&self.caller().await?.0)
    }

    /// The caller's ARN (the AWS half of a release's actor).
    pub async fn caller_arn(&self) -> Result<&str> {
        Ok(&self.caller().await?.1)
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

/// One error line for a failed AWS call, with the hint that fits the cause.
pub fn call_failed<E, R>(
    operation: &str,
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> anyhow::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut msg = sdk_message(err);
    let mut lower = msg.to_lowercase();
    // The credential chain explains every provider it tried, one per line; the error is one line.
    if lower.contains("no credentials found") {
        msg =
            "no AWS credentials found (tried the environment, profiles, SSO and instance metadata)"
                .to_string();
        lower = msg.to_lowercase();
    } else if let Some((first, _)) = msg.split_once('\n') {
        msg = first.trim_end().to_string();
        lower = msg.to_lowercase();
    }
    let hint = if lower.contains("credential")
        || lower.contains("token")
        || lower.contains("signature")
    {
        "check your AWS credentials: run under `aws-vault exec <profile> --`, or set AWS_PROFILE"
    } else if lower.contains("accessdenied")
        || lower.contains("not authorized")
        || lower.contains("unauthorized")
    {
        "your role lacks this permission: use the power role (`aws-vault exec prod-power --`)"
    } else if lower.contains("throttl") || lower.contains("rate exceeded") {
        "AWS is throttling requests and retries did not help; wait a minute and run again"
    } else if lower.contains("unreachable") || lower.contains("timed out") {
        "check the network, AWS_REGION and AWS_ENDPOINT_URL"
    } else {
        "run again with -v for details"
    };
    AppError::new(Kind::Failed, format!("{operation} failed: {msg}"))
        .with_hint(hint)
        .into()
}
