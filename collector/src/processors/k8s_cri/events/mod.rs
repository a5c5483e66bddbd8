//! The event path, one instance per pipeline: reads the newest catalog snapshot per batch
//! and attributes each event ([`resolver`]), holds events whose container is not known
//! yet for a bounded time ([`hold`]), and asks the CRI task for what it lacks through the
//! service's request queue ([`processor`]). It never waits on the runtime.

pub(crate) mod hold;
pub mod processor;
pub(crate) mod resolver;
