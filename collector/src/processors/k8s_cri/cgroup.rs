//! Cgroup layouts: container cgroup directories, cgroup ids and `/proc/<pid>/cgroup`.
