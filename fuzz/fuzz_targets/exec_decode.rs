//! Raw `exec` ring-buffer records through `sources::exec::decode`, then onward.
#![no_main]

use kotel::event::Event;
use kotel::sources::exec::{decode, DecodeError};
use kotel_fuzz::{check_decoded, CLOCK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| check_decoded(decode(bytes, &CLOCK), DecodeError::reason, Event::Exec));
