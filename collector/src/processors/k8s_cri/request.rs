//! The one message between the two halves: what the event path asks of the CRI task,
//! over the service's bounded queue (full: the ask is dropped and counted; the next
//! resync catches up).

/// What the event path asks of the CRI task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Describe this container now (an event came from it before any resync saw it).
    Describe(String),
    /// Read the container list now (an event's process left before it could be looked
    /// at; a new container may own its cgroup).
    Resync,
    /// `cgroup_id` is proved to be this container's cgroup (by a live process, or by the
    /// directory as the runtime created it); an unknown container is described at once.
    Learned {
        /// The container id.
        container_id: String,
        /// Its cgroup v2 id.
        cgroup_id: u64,
    },
}
