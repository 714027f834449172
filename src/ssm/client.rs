//! The SSM adapter: documents, SendCommand by tag, ListCommands and GetCommandInvocation.

use anyhow::Result;
use aws_sdk_ssm::types::{CloudWatchOutputConfig, DocumentKeyValuesFilter, Target};

use super::tracker::{parse_elapsed, CommandState, Invocation};
use crate::aws::apply::{call_error, CallStatus};
use crate::aws::outcome::{CallError, Tracker};
use crate::aws::{call_failed, Aws};
use crate::logs::pace::{error_code, is_throttling};

/// An answer, or "throttled: ask again later".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    Got(T),
    Throttled,
}

/// What DescribeDocument says about a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    pub name: String,
    /// `Command`, `Session`, `Automation`...
    pub document_type: String,
    /// `Active`, `Creating`, `Failed`...
    pub status: String,
}

/// The document, or `None` when it does not exist.
pub async fn describe_document(aws: &Aws, name: &str) -> Result<Option<DocumentInfo>> {
    match aws.ssm.describe_document().name(name).send().await {
        Ok(out) => {
            let d = out.document();
            Ok(Some(DocumentInfo {
                name: name.to_string(),
                document_type: d
                    .and_then(|d| d.document_type())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                status: d
                    .and_then(|d| d.status())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            }))
        }
        Err(e) if error_code(&e) == Some("InvalidDocument") => Ok(None),
        Err(e) => Err(call_failed("DescribeDocument", &e)),
    }
}

/// Names of the Command documents this account owns (for a did-you-mean; at most 10 pages).
pub async fn own_command_documents(aws: &Aws) -> Result<Vec<String>> {
    let filter = |k: &str, v: &str| DocumentKeyValuesFilter::builder().key(k).values(v).build();
    let mut pages = aws
        .ssm
        .list_documents()
        .filters(filter("Owner", "Self"))
        .filters(filter("DocumentType", "Command"))
        .max_results(50)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_failed("ListDocuments", &e))?;
        out.extend(
            page.document_identifiers()
                .iter()
                .filter_map(|d| d.name().map(str::to_string)),
        );
        n += 1;
        if n >= 10 {
            break;
        }
    }
    Ok(out)
}

/// What SendCommand is asked to do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SendSpec {
    pub document: String,
    /// The tag key and value that select the targets (`aws:autoscaling:groupName` = group).
    pub tag_key: String,
    pub tag_value: String,
    pub max_concurrency: String,
    pub max_errors: String,
    pub output_log_group: String,
    pub comment: String,
}

/// Sends the command to the instances with the tag; returns the command id. The error says
/// whether the command may have been sent all the same (a lost answer) or surely was not.
pub async fn send(aws: &Aws, spec: &SendSpec) -> Result<String, CallError> {
    let t = Tracker::default();
    let out = aws
        .ssm
        .send_command()
        .document_name(&spec.document)
        .targets(
            Target::builder()
                .key(format!("tag:{}", spec.tag_key))
                .values(&spec.tag_value)
                .build(),
        )
        .max_concurrency(&spec.max_concurrency)
        .max_errors(&spec.max_errors)
        .cloud_watch_output_config(
            CloudWatchOutputConfig::builder()
                .cloud_watch_log_group_name(&spec.output_log_group)
                .cloud_watch_output_enabled(true)
                .build(),
        )
        .comment(&spec.comment)
        .customize()
        .interceptor(t.clone())
        .send()
        .await
        .map_err(|e| call_error("SendCommand", &e, &t))?;
    out.command()
        .and_then(|c| c.command_id())
        .map(str::to_string)
        .ok_or_else(|| CallError {
            // Accepted, but we cannot say which command it is: treat it as a lost answer.
            status: CallStatus::Unknown,
            error: anyhow::anyhow!("SendCommand returned no command id"),
        })
}

/// ListCommands for one command id.
pub async fn command_state(aws: &Aws, command_id: &str) -> Result<Answer<CommandState>> {
    let out = match aws.ssm.list_commands().command_id(command_id).send().await {
        Ok(o) => o,
        Err(e) if is_throttling(&e) => return Ok(Answer::Throttled),
        Err(e) => return Err(call_failed("ListCommands", &e)),
    };
    let c = out
        .commands()
        .first()
        .ok_or_else(|| anyhow::anyhow!("ListCommands does not know command {command_id}"))?;
    Ok(Answer::Got(CommandState {
        status: c
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        target_count: c.target_count(),
        completed: c.completed_count(),
        errors: c.error_count(),
        delivery_timed_out: c.delivery_timed_out_count(),
    }))
}

/// GetCommandInvocation for one instance; `None` when there is no invocation (yet).
pub async fn invocation(
    aws: &Aws,
    command_id: &str,
    instance: &str,
) -> Result<Answer<Option<Invocation>>> {
    let out = match aws
        .ssm
        .get_command_invocation()
        .command_id(command_id)
        .instance_id(instance)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if is_throttling(&e) => return Ok(Answer::Throttled),
        Err(e) if error_code(&e) == Some("InvocationDoesNotExist") => return Ok(Answer::Got(None)),
        Err(e) => return Err(call_failed("GetCommandInvocation", &e)),
    };
    let duration = out
        .execution_elapsed_time()
        .and_then(parse_elapsed)
        .or_else(|| {
            let start: jiff::Timestamp = out.execution_start_date_time()?.parse().ok()?;
            let end: jiff::Timestamp = out.execution_end_date_time()?.parse().ok()?;
            std::time::Duration::try_from(end.duration_since(start)).ok()
        });
    Ok(Answer::Got(Some(Invocation {
        instance: instance.to_string(),
        status: out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Pending".into()),
        details: out.status_details().map(str::to_string),
        response_code: Some(out.response_code()).filter(|c| *c != -1),
        duration,
        stdout: out
            .standard_output_content()
            .unwrap_or_default()
            .to_string(),
        stderr: out.standard_error_content().unwrap_or_default().to_string(),
    })))
}
