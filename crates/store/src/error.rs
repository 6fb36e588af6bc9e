#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid database URL `{url}`: {detail}")]
    InvalidUrl { url: String, detail: String },
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("the database stayed busy with other writes for {0:?}; try again")]
    Busy(std::time::Duration),
}

impl StoreError {
    /// Maps unique-constraint violations to [`StoreError::Conflict`] naming `what`.
    pub fn conflict_as(self, what: &str) -> StoreError {
        match &self {
            StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                StoreError::Conflict(what.to_owned())
            }
            _ => self,
        }
    }
}
