//! Platform adapters: each turns platform input into engine calls and renders the outbox's
//! platform-neutral effects in its own format.

pub mod api;
pub mod console;
pub mod discord;
pub mod monitoring;
pub mod sinks;
pub mod slack;
pub mod text;
