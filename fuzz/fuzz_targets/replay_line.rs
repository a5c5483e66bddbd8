//! Any line of a `replay` file: what `serde_json` makes of it as an `Event`, then what
//! follows an accepted event (exporters' encoders, `aggregate`).
#![no_main]

use kotel::event::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(line) {
        kotel_fuzz::follow(&event);
    }
});
