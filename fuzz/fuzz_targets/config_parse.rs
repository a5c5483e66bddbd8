//! Any text as a pipeline file, through what `kotel validate` runs (`${env:...}`
//! substitution, YAML, sections, validation); bytes that are not UTF-8 are replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = kotel_fuzz::check_config(&String::from_utf8_lossy(bytes));
});
