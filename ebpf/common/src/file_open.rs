//! `file_open` source records (shared with the kernel program). Being built: issue 3.
