//! Raw `tcp` ring-buffer records through `sources::tcp::decode`, then onward.
#![no_main]

use kotel::event::Event;
use kotel::sources::tcp::{decode, DecodeError};
use kotel_fuzz::{check_decoded, CLOCK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| check_decoded(decode(bytes, &CLOCK), DecodeError::reason, Event::Tcp));
