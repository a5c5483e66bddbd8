//! The bounded queue between the exporter (which encodes) and its sender task (which
//! sends with retries): at most `max_requests` requests and `max_bytes` encoded bytes
//! wait; pushing beyond either drops the oldest first, and says what it dropped.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::exporters::otlp::config::QueueConfig;
use crate::exporters::otlp::transport::Request;

/// A request waiting, with what it holds.
#[derive(Debug)]
pub struct Queued {
    /// The request.
    pub request: Request,
    /// Its encoded size.
    pub bytes: usize,
    /// Data points or log records in it.
    pub items: u64,
}

#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<Queued>,
    bytes: usize,
}

/// The queue.
#[derive(Debug)]
pub struct Queue {
    state: Mutex<State>,
    limits: QueueConfig,
    ready: Notify,
}

impl Queue {
    /// An empty queue with `limits`.
    pub fn new(limits: QueueConfig) -> Self {
        Self {
            state: Mutex::new(State::default()),
            limits,
            ready: Notify::new(),
        }
    }

    /// Adds `item`; returns the oldest requests dropped to make room (a request larger
    /// than `max_bytes` by itself is dropped and returned).
    pub fn push(&self, item: Queued) -> Vec<Queued> {
        let mut dropped = Vec::new();
        if item.bytes > self.limits.max_bytes {
            dropped.push(item);
            return dropped;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !state.waiting.is_empty()
            && (state.waiting.len() + 1 > self.limits.max_requests
                || state.bytes + item.bytes > self.limits.max_bytes)
        {
            if let Some(oldest) = state.waiting.pop_front() {
                state.bytes -= oldest.bytes;
                dropped.push(oldest);
            }
        }
        state.bytes += item.bytes;
        state.waiting.push_back(item);
        drop(state);
        self.ready.notify_one();
        dropped
    }

    /// Takes the oldest request, if any.
    pub fn pop(&self) -> Option<Queued> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let item = state.waiting.pop_front()?;
        state.bytes -= item.bytes;
        Some(item)
    }

    /// Waits until something may have been pushed.
    pub async fn wait(&self) {
        self.ready.notified().await;
    }

    /// Wakes a waiting sender (at shutdown).
    pub fn wake(&self) {
        self.ready.notify_one();
    }

    /// `(requests, bytes)` waiting.
    pub fn depth(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (state.waiting.len(), state.bytes)
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
