//! Sequences of raw `l7` ring-buffer records (each behind a 2-byte little-endian length)
//! through `Record::parse` and one `Tracker`, then every exchange onward.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| kotel_fuzz::check_l7(bytes));
