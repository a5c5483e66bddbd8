//! The handle a source emits batches through.

use crate::event::Batch;

/// Where a source sends its batches. The runtime counts each batch sent or dropped; a
/// full channel drops (and counts) rather than stall a kernel reader.
#[derive(Clone)]
pub struct SourceOutput {
    tx: tokio::sync::mpsc::Sender<Batch>,
}

impl SourceOutput {
    /// Sends one batch (empty batches are ignored).
    pub async fn send(&self, batch: Batch) {
        if !batch.is_empty() {
            let _ = self.tx.try_send(batch);
        }
    }
}
