use super::*;
use crate::processors::aggregate::instruments::Kind;

#[test]
fn every_row_feeds_an_instrument_of_its_sample_kind() {
    let sums = CONNECTION
        .iter()
        .map(|m| m.instrument)
        .chain(COUNTERS.iter().map(|m| m.instrument));
    for instrument in sums {
        let kind = instrument.spec().2;
        let observed = instrument == Instrument::Duration;
        assert_eq!(kind == Kind::Histogram, observed, "{}", instrument.name());
    }
    for (_, instrument) in KERNEL_HISTOGRAMS {
        assert_eq!(instrument.spec().2, Kind::KernelHistogram);
    }
}
