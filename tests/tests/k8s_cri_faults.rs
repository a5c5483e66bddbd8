//! The real `k8s_cri` processor against a CRI runtime that misbehaves (the in-process
//! fake of `kotel_integration_tests::fake_cri`), on a fake host: a unified cgroup
//! hierarchy of real directories (a container's cgroup id is its directory's inode) and
//! `/proc/<pid>/cgroup` files in a temporary directory. Unprivileged and fast: no kernel
//! programs, no root.
//!
//! What it proves, through what the processor does to events and what it counts:
//!
//! - `k8s_cri_faults/attribution.rs`: on a healthy runtime, container events carry the pod,
//!   namespace, container, image, runtime and node attributes; host events (by cgroup id
//!   alone or proved by `/proc`) carry the node name and nothing else; a container that
//!   exited or was removed keeps its attribution for `exited_grace` and then loses it for
//!   good.
//! - `k8s_cri_faults/outages.rs`: a runtime that hangs, answers slowly, fails with error
//!   statuses, sends bytes that are no protobuf or restarts never makes `process` wait
//!   (every call far under the call timeout), events meanwhile get host attributes (or keep
//!   their cached container's), every failure is counted by outcome, and attribution
//!   resumes, new containers included, once the runtime is healthy again.
//! - `k8s_cri_faults/garbage.rs`: answers with wrong content (a cgroups path of `/` or of a
//!   host slice, paths claimed by two containers, malformed or empty ids, a verbose info
//!   that is not JSON or has a mistyped pid, megabyte labels) are refused with a counted
//!   reason and never attribute an event to a container it does not belong to; values are
//!   clipped; a list of garbled ids does not make the running containers count as gone.
//! - `k8s_cri_faults/hold.rs`: an event of a container the runtime has not described yet is
//!   held, then released attributed once it is described (by the event stream, a resync, or
//!   the resync its vanished process asks for), released with host attributes when `hold`
//!   runs out, and released at once on a drain; a full hold passes events on.

mod k8s_cri_faults {
    pub mod rig;

    mod attribution;
    mod garbage;
    mod hold;
    mod outages;
}
