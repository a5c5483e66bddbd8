//! The CRI task, one per service: finds the runtime's socket ([`discovery`]), talks CRI v1
//! to it ([`client`]), turns its answers into catalog entries ([`describe`]) and keeps the
//! catalog current, publishing snapshots and answering the event path's requests
//! ([`watcher`]). It never touches events.

pub(crate) mod client;
pub(crate) mod describe;
pub mod discovery;
pub(crate) mod watcher;
