//! Raw `file_open` ring-buffer records through `sources::file_open::decode`, then onward.
#![no_main]

use kotel::event::Event;
use kotel::sources::file_open::{decode, DecodeError};
use kotel_fuzz::{check_decoded, watched_paths, CLOCK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| check_decoded(
    decode(bytes, &CLOCK, &watched_paths()),
    DecodeError::reason,
    Event::FileOpen
));
