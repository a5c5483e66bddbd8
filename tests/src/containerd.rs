//! A containerd of the tests' own, on its own socket and state directories.
