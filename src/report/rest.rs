//! GitHub REST requests with the one retry policy every caller shares (check runs, `regress`):
//! transport errors and 5xx are retried with exponential backoff; 429, and 403 rate limits, wait
//! for `Retry-After` (else `x-ratelimit-reset`, at most two minutes a time); any other 403 is
//! `Forbidden`, for the caller to word; answers are read up to a size limit. The raw
//! `_get`/`_post`/`_patch` of octocrab are used because retries need the response headers, which
//! its typed builders do not expose. The token stays inside octocrab.

use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use serde_json::Value;

/// Attempts per request on transport errors, 5xx and rate limits.
const ATTEMPTS: u32 = 5;
/// The longest we wait for a rate limit to reset before trying again.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(120);

/// HTTP methods we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// A request that GitHub answered.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 2xx, with the body.
    Ok(Vec<u8>),
    /// 403 that is not a rate limit (a read-only token, a missing permission), with GitHub's
    /// message and what was asked.
    Forbidden { what: String, message: String },
}

/// Why a request did not get an answer to use.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestError {
    #[error("GitHub answered {status} to {what}: {message}")]
    Status { status: u16, what: String, message: String },
    #[error("failed to reach GitHub for {what}: {message}")]
    Transport { what: String, message: String },
    #[error("{what} is larger than {limit} bytes")]
    TooLarge { what: String, limit: usize },
}

/// One request with the retry policy above; `attempted` is called before every attempt (for
/// request counts).
pub(crate) async fn send(
    client: &octocrab::Octocrab,
    method: Method,
    uri: &str,
    body: Option<&Value>,
    limit: usize,
    backoff: Duration,
    attempted: &dyn Fn(),
) -> Result<Answer, RestError> {
    let what = format!("{} {uri}", method.as_str());
    let mut delay = backoff;
    for attempt in 1..=ATTEMPTS {
        attempted();
        let response = match method {
            Method::Get => client._get(uri).await,
            Method::Post => client._post(uri, body).await,
            Method::Patch => client._patch(uri, body).await,
        };
        let response = match response {
            Ok(response) => response,
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!("{what}: {error}; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                continue;
            }
            Err(error) => {
                return Err(RestError::Transport {
                    what,
                    message: error.to_string(),
                });
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = match Limited::new(response.into_body(), limit).collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                return Err(RestError::TooLarge { what, limit });
            }
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!("{what}: {error}; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                continue;
            }
            Err(error) => {
                return Err(RestError::Transport {
                    what,
                    message: error.to_string(),
                });
            }
        };
        if (200..=299).contains(&status) {
            return Ok(Answer::Ok(bytes));
        }
        let text = String::from_utf8_lossy(&bytes);
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|value| value.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let rate_limited = status == 429
            || (status == 403
                && (header("retry-after").is_some()
                    || header("x-ratelimit-remaining").as_deref() == Some("0")
                    || message.to_ascii_lowercase().contains("rate limit")));
        match status {
            _ if rate_limited && attempt < ATTEMPTS => {
                let wait = header("retry-after")
                    .and_then(|seconds| seconds.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .or_else(|| {
                        let reset = header("x-ratelimit-reset")?.parse::<i64>().ok()?;
                        Some(Duration::from_secs(
                            (reset - chrono::Utc::now().timestamp()).max(1) as u64
                        ))
                    })
                    .unwrap_or(delay)
                    .min(MAX_RATE_LIMIT_WAIT);
                tracing::warn!("{what}: rate limited; waiting {}s", wait.as_secs());
                tokio::time::sleep(wait).await;
            }
            403 if !rate_limited => return Ok(Answer::Forbidden { what, message }),
            500..=599 if attempt < ATTEMPTS => {
                tracing::warn!("{what}: {status}; retrying in {}ms", delay.as_millis());
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            _ => return Err(RestError::Status { status, what, message }),
        }
    }
    Err(RestError::Status {
        status: 0,
        what,
        message: "gave up after retries".to_owned(),
    })
}
