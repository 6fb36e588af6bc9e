use tillbridge_lightspeed::LightspeedError;
use tillbridge_store::StoreError;

/// Engine errors. `Invalid`, `NotFound` and `Conflict` are the caller's to fix and carry a
/// message that says how; the rest are operational.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The connection's series cannot do what was asked (say, editing X-Series items).
    #[error("{0}")]
    Unsupported(String),
    /// The connection's credentials were revoked or expired: the merchant must reconnect.
    #[error("connection `{0}` needs re-authorization: reconnect it to resume syncing")]
    NeedsReauth(String),
    #[error("connection `{0}` is disabled: reconnect it to resume syncing")]
    Disabled(String),
    #[error(transparent)]
    Provider(#[from] LightspeedError),
    #[error("Lightspeed sent data that could not be mapped: {0}")]
    Mapping(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// Another worker took over this job (its lease expired).
    #[error("job lease lost")]
    LeaseLost,
    /// The process is stopping: the job stops after the page it committed and is handed back.
    #[error("the process is shutting down")]
    ShuttingDown,
    /// A fault of this process (a failed hashing thread, unreadable stored data).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => EngineError::NotFound(format!("{what} was not found")),
            StoreError::Conflict(what) => EngineError::Conflict(format!("{what} already exists")),
            other => EngineError::Store(other),
        }
    }
}

impl EngineError {
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Provider(e) => e.is_transient(),
            EngineError::Store(_) | EngineError::LeaseLost | EngineError::ShuttingDown => true,
            _ => false,
        }
    }
}
