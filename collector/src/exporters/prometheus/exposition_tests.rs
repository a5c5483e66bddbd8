use super::*;

#[test]
fn the_accept_header_picks_the_format() {
    let prometheus_native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    assert_eq!(
        Exposition::negotiate(prometheus_native),
        Exposition::Protobuf
    );
    let prometheus_classic = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(
        Exposition::negotiate(prometheus_classic),
        Exposition::Text(Format::OpenMetrics)
    );
    assert_eq!(Exposition::negotiate(""), Exposition::Text(Format::Text));
    assert_eq!(
        Exposition::negotiate("application/vnd.google.protobuf"),
        Exposition::Text(Format::Text),
        "another protobuf message is not ours"
    );
}
