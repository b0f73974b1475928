//! A small GitHub REST client for `regress` (octocrab underneath, as the check-run code): JSON
//! requests and bounded downloads, retried with backoff on transport errors and 5xx, waiting out
//! rate limits (`Retry-After`, else `x-ratelimit-reset`, at most two minutes), a 403 that is
//! not a rate limit reported as such. The token is handed to octocrab and never kept or printed.

use std::time::Duration;

use serde_json::Value;

/// The largest JSON answer we read.
const MAX_JSON_BYTES: usize = 32 * 1024 * 1024;

/// Where the API is and which repository.
#[derive(Clone)]
pub(crate) struct ApiTarget {
    pub(crate) api_url: String,
    pub(crate) token: String,
    pub(crate) owner: String,
    pub(crate) repo: String,
    /// The first retry's backoff (doubles each time).
    pub(crate) backoff: Duration,
}

impl std::fmt::Debug for ApiTarget {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiTarget")
            .field("api_url", &self.api_url)
            .field("token", &"***")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("failed to set up the GitHub client: {0}")]
    Client(String),
    #[error("GitHub answered {status} to {what}: {message}")]
    Status { status: u16, what: String, message: String },
    #[error(
        "GitHub refused {what} (403: {message}); the token needs `actions: read` (artifacts) or `issues: write` (issues)"
    )]
    Forbidden { what: String, message: String },
    #[error("failed to reach GitHub for {what}: {message}")]
    Transport { what: String, message: String },
    #[error("{what} is larger than {limit} bytes")]
    TooLarge { what: String, limit: usize },
}

impl ApiError {
    /// The HTTP status, when GitHub answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::Forbidden { .. } => Some(403),
            _ => None,
        }
    }
}

pub(crate) use crate::report::rest::Method;
use crate::report::rest::{self, Answer, RestError};

/// The client.
pub(crate) struct Api {
    client: octocrab::Octocrab,
    backoff: Duration,
    pub(crate) owner: String,
    pub(crate) repo: String,
    /// Requests sent (retries included).
    pub(crate) requests: std::cell::Cell<usize>,
}

impl Api {
    pub(crate) fn new(target: &ApiTarget) -> Result<Api, ApiError> {
        let client = octocrab::Octocrab::builder()
            .base_uri(target.api_url.as_str())
            .map_err(|error| ApiError::Client(error.to_string()))?
            .personal_token(target.token.clone())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|error| ApiError::Client(error.to_string()))?;
        Ok(Api {
            client,
            backoff: target.backoff,
            owner: target.owner.clone(),
            repo: target.repo.clone(),
            requests: std::cell::Cell::new(0),
        })
    }

    /// `/repos/OWNER/REPO` + `rest`.
    pub(crate) fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// A JSON request; the answer's JSON (`null` when empty).
    pub(crate) async fn json(&self, method: Method, uri: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let bytes = self.send(method, uri, body, MAX_JSON_BYTES).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|error| ApiError::Transport {
            what: format!("{} {uri}", method.as_str()),
            message: format!("the answer is not JSON: {error}"),
        })
    }

    /// Download at most `limit` bytes (redirects are followed; credentials are not sent to
    /// another origin).
    pub(crate) async fn download(&self, uri: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
        self.send(Method::Get, uri, None, limit).await
    }

    /// One request with the shared retry policy (`report::rest`); a 403 that is not a rate
    /// limit is `Forbidden`.
    async fn send(&self, method: Method, uri: &str, body: Option<&Value>, limit: usize) -> Result<Vec<u8>, ApiError> {
        let counted = || self.requests.set(self.requests.get() + 1);
        match rest::send(&self.client, method, uri, body, limit, self.backoff, &counted).await {
            Ok(Answer::Ok(bytes)) => Ok(bytes),
            Ok(Answer::Forbidden { what, message }) => Err(ApiError::Forbidden { what, message }),
            Err(RestError::Status { status, what, message }) => Err(ApiError::Status { status, what, message }),
            Err(RestError::Transport { what, message }) => Err(ApiError::Transport { what, message }),
            Err(RestError::TooLarge { what, limit }) => Err(ApiError::TooLarge { what, limit }),
        }
    }
}

/// Every item of a paginated list (`per_page=100`, page after page until a short page, the
/// stated `total_count`, or `max_items`). `items` names the array in each page (`None`: the
/// page is the array).
pub(crate) async fn paginate(
    api: &Api,
    path: &str,
    query: &str,
    items: Option<&str>,
    max_items: usize,
) -> Result<Vec<Value>, ApiError> {
    const PER_PAGE: usize = 100;
    let mut all = Vec::new();
    for page in 1.. {
        let separator = if query.is_empty() { "" } else { "&" };
        let uri = format!("{path}?{query}{separator}per_page={PER_PAGE}&page={page}");
        let answer = api.json(Method::Get, &uri, None).await?;
        let total = answer.get("total_count").and_then(Value::as_u64);
        let list = match items {
            Some(key) => answer.get(key).and_then(Value::as_array).cloned().unwrap_or_default(),
            None => answer.as_array().cloned().unwrap_or_default(),
        };
        let count = list.len();
        all.extend(list);
        let done = count < PER_PAGE || all.len() >= max_items || total.is_some_and(|total| all.len() as u64 >= total);
        if done {
            break;
        }
    }
    all.truncate(max_items);
    Ok(all)
}
