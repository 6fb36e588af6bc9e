//! tillbridge engine: connections and the token vault, sync, jobs and the event log.
//!
//! The engine owns every rule about talking to providers and writing what they say; the HTTP
//! server and the CLI are thin layers over [`Engine`].

pub mod api_keys;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod connections;
pub mod consumers;
mod engine;
pub mod error;
pub mod financials;
pub mod ids;
pub mod ingress;
mod mailer;
pub mod merchants;
pub mod orders;
pub mod outbound;
pub mod pos_orders;
pub mod rotation;
pub mod state;
pub mod sync;
pub mod users;
pub mod vault;
pub mod worker;

pub use clock::Clock;
pub use config::{
    EngineConfig, KSeriesConfig, MailTransport, OSeriesConfig, RSeriesConfig, XSeriesConfig,
};
pub use engine::Engine;
pub use error::EngineError;
pub use vault::Vault;
