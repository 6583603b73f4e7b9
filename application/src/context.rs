//! Facts about the request a use case serves, recorded with what it changes.

/// Where a request comes from.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request's id, so an audit entry leads back to its log line.
    pub request_id: Option<String>,
}
