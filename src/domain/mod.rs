//! Pure domain logic: no async, no I/O, no platform types.

pub mod access;
pub mod actions;
pub mod address;
pub mod chain;
pub mod command_set;
pub mod definitions;
pub mod drill;
pub mod escalation;
pub mod feed;
pub mod grammar;
pub mod impact;
pub mod incident;
pub mod lifecycle;
pub mod mail;
pub mod month;
pub mod naming;
pub mod oncall;
pub mod period;
pub mod postmortem;
pub mod refusal;
pub mod report;
pub mod score;
pub mod suggest;
pub mod text;
pub mod types;
pub mod when;
pub mod words;

pub use feed::FeedFilter;
pub use grammar::{Command, UsageError};
pub use incident::{Action, EventKind, Incident, TimelineEvent};
pub use refusal::Refusal;
pub use text::Markup;
pub use types::{Level, Role, SevId, SevType, Stage};
