//! An in-process CRI server for fault injection: slow, failing or garbage answers.
