//! Lightspeed adapters: one module per series with its wire types, OAuth dialect, client and
//! mapping into the tillbridge model. Nothing here touches storage; the engine drives it.

pub mod error;
pub mod http;
pub mod kseries;
pub mod oauth;
pub mod oseries;
pub mod pacing;
pub mod payload;
pub mod rseries;
pub mod secret;
pub mod webhook;
pub mod xseries;

pub use error::LightspeedError;
pub use oauth::{Pkce, TokenSet};
pub use secret::Secret;
