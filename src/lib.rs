//! Gatehouse: an OpenID Connect provider for school and local-authority staff.
//!
//! The modules below read as a table of contents; each says why it exists.
#![forbid(unsafe_code)]

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod directory;
pub mod domain;
pub mod fault;
pub mod fuzzing;
pub mod http;
pub mod mail;
pub mod oidc;
pub mod policy;
pub mod server;
pub mod staff;
pub mod store;
pub mod telemetry;
pub mod timekeeping;
