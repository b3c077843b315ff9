//! Glue to the Workers platform: configuration from the environment, request bodies, responses,
//! randomness, outbound fetches, the proxy to the origin, WebCrypto, JWKS, and the Lightning
//! backends' HTTP APIs.

pub mod body;
pub mod config;
pub mod facilitator;
pub mod incoming;
pub mod invoice;
pub mod oauth_keys;
pub mod outbound;
pub mod proxy;
pub mod random;
pub mod relay;
pub mod reply;
pub mod respond;
pub mod webcrypto;
