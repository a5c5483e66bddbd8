//! Sending one OTLP request over gRPC (tonic) or HTTP/protobuf (hyper), with TLS for
//! `https://`, headers, gzip and a timeout; failures are classified as retryable or not,
//! with the server's requested delay (HTTP `Retry-After`, gRPC `RetryInfo`) when it
//! gives one.

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::Channel;
use tonic_prost::ProstCodec;
use tonic_types::StatusExt;

use crate::exporters::otlp::config::{Compression, OtlpExporterConfig, Protocol};
use crate::exporters::otlp::tls::TlsFiles;
use crate::exporters::otlp::wire::Encoded;

/// The gRPC method spans are exported with (`TraceService/Export`).
const TRACES_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// One request, ready to send.
#[derive(Clone, Debug)]
pub enum Request {
    /// Metrics.
    Metrics(ExportMetricsServiceRequest),
    /// Logs.
    Logs(ExportLogsServiceRequest),
    /// Spans: an `ExportTraceServiceRequest`, encoded.
    Traces(Encoded),
}

impl Request {
    /// `metrics`, `logs` or `traces`.
    pub fn signal(&self) -> &'static str {
        match self {
            Request::Metrics(_) => "metrics",
            Request::Logs(_) => "logs",
            Request::Traces(_) => "traces",
        }
    }

    /// Encoded size in bytes (before compression).
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::Metrics(r) => r.encoded_len(),
            Request::Logs(r) => r.encoded_len(),
            Request::Traces(r) => r.encoded_len(),
        }
    }
}

/// What the backend said of a request it accepted: items it rejected anyway.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accepted {
    /// Data points or log records rejected (partial success).
    pub rejected: i64,
    /// The backend's explanation.
    pub message: String,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq)]
pub struct SendError {
    /// Worth trying again.
    pub retryable: bool,
    /// The server asked to wait this long first.
    pub retry_after: Option<Duration>,
    /// What happened.
    pub message: String,
}

impl SendError {
    fn fatal(message: String) -> Self {
        Self {
            retryable: false,
            retry_after: None,
            message,
        }
    }
}

/// A connection to one backend.
pub enum Transport {
    /// OTLP/gRPC.
    Grpc {
        /// Lazily connected channel (the backend may be down at start).
        channel: Channel,
        /// Request metadata.
        headers: Vec<(
            MetadataKey<tonic::metadata::Ascii>,
            MetadataValue<tonic::metadata::Ascii>,
        )>,
        /// gzip or not.
        gzip: bool,
        /// Per-request timeout.
        timeout: Duration,
    },
    /// OTLP/HTTP protobuf.
    Http {
        /// The client (plain or TLS, by the endpoint's scheme).
        client: Box<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
        /// `endpoint` without a trailing slash.
        base: String,
        /// Request headers.
        headers: Vec<(String, String)>,
        /// gzip or not.
        gzip: bool,
        /// Per-request timeout.
        timeout: Duration,
    },
}

impl Transport {
    /// A transport for `config` (the endpoint must be valid; nothing is dialled yet).
    pub fn new(config: &OtlpExporterConfig) -> Result<Self, String> {
        let gzip = config.compression == Compression::Gzip;
        match config.protocol {
            Protocol::Grpc => {
                let mut endpoint = tonic::transport::Endpoint::from_shared(config.endpoint.clone())
                    .map_err(|e| format!("endpoint {}: {e}", config.endpoint))?
                    .connect_timeout(config.timeout);
                if config.endpoint.starts_with("https://") {
                    let tls = TlsFiles::read(&config.tls)?;
                    endpoint = endpoint
                        .tls_config(tls.grpc())
                        .map_err(|e| format!("TLS: {e}"))?;
                }
                let channel = endpoint.connect_lazy();
                let headers = config
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = MetadataKey::from_str(&k.to_ascii_lowercase()).ok()?;
                        let value = MetadataValue::try_from(v.as_str()).ok()?;
                        Some((key, value))
                    })
                    .collect();
                Ok(Transport::Grpc {
                    channel,
                    headers,
                    gzip,
                    timeout: config.timeout,
                })
            }
            Protocol::HttpProtobuf => Ok(Transport::Http {
                client: Box::new(Client::builder(TokioExecutor::new()).build(https(config)?)),
                base: config.endpoint.trim_end_matches('/').to_string(),
                headers: config.headers.clone().into_iter().collect(),
                gzip,
                timeout: config.timeout,
            }),
        }
    }

    /// Sends `request` once.
    pub async fn send(&self, request: &Request) -> Result<Accepted, SendError> {
        match self {
            Transport::Grpc {
                channel,
                headers,
                gzip,
                timeout,
            } => {
                let call = grpc_send(channel.clone(), headers, *gzip, request);
                match tokio::time::timeout(*timeout, call).await {
                    Ok(result) => result,
                    Err(_) => Err(timed_out(*timeout)),
                }
            }
            Transport::Http {
                client,
                base,
                headers,
                gzip,
                timeout,
            } => {
                let call = http_send(client, base, headers, *gzip, request);
                match tokio::time::timeout(*timeout, call).await {
                    Ok(result) => result,
                    Err(_) => Err(timed_out(*timeout)),
                }
            }
        }
    }
}

fn timed_out(timeout: Duration) -> SendError {
    SendError {
        retryable: true,
        retry_after: None,
        message: format!("no answer within {timeout:?}"),
    }
}

async fn grpc_send(
    channel: Channel,
    headers: &[(
        MetadataKey<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )],
    gzip: bool,
    request: &Request,
) -> Result<Accepted, SendError> {
    fn with_headers<T>(
        message: T,
        headers: &[(
            MetadataKey<tonic::metadata::Ascii>,
            MetadataValue<tonic::metadata::Ascii>,
        )],
    ) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        for (k, v) in headers {
            request.metadata_mut().insert(k.clone(), v.clone());
        }
        request
    }
    let outcome = match request {
        Request::Metrics(m) => {
            let mut client = MetricsServiceClient::new(channel);
            if gzip {
                client = client.send_compressed(CompressionEncoding::Gzip);
            }
            client
                .export(with_headers(m.clone(), headers))
                .await
                .map(|r| partial_metrics(r.into_inner()))
        }
        Request::Logs(l) => {
            let mut client = LogsServiceClient::new(channel);
            if gzip {
                client = client.send_compressed(CompressionEncoding::Gzip);
            }
            client
                .export(with_headers(l.clone(), headers))
                .await
                .map(|r| partial_logs(r.into_inner()))
        }
        Request::Traces(t) => {
            // The generated client's call, with the bytes already encoded.
            let mut client = tonic::client::Grpc::new(channel);
            if gzip {
                client = client.send_compressed(CompressionEncoding::Gzip);
            }
            let codec: ProstCodec<Encoded, ExportTraceServiceResponse> = ProstCodec::default();
            let path = PathAndQuery::from_static(TRACES_EXPORT);
            match client.ready().await {
                Ok(()) => client
                    .unary(with_headers(t.clone(), headers), path, codec)
                    .await
                    .map(|r| partial_traces(r.into_inner())),
                Err(e) => Err(tonic::Status::unavailable(format!(
                    "service was not ready: {e}"
                ))),
            }
        }
    };
    outcome.map_err(|status| {
        use tonic::Code::*;
        // The server's `RetryInfo` detail, when it sends one, says how long to wait.
        let retry_after = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay);
        SendError {
            retryable: matches!(
                status.code(),
                Cancelled
                    | DeadlineExceeded
                    | ResourceExhausted
                    | Aborted
                    | OutOfRange
                    | Unavailable
                    | DataLoss
            ),
            retry_after,
            message: format!("{:?}: {}", status.code(), status.message()),
        }
    })
}

/// The HTTP client's connector: TLS for `https://`, plain for `http://`.
fn https(config: &OtlpExporterConfig) -> Result<HttpsConnector<HttpConnector>, String> {
    let files = if config.endpoint.starts_with("https://") {
        TlsFiles::read(&config.tls)?
    } else {
        TlsFiles::read(&Default::default())?
    };
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(files.rustls()?)
        .https_or_http()
        .enable_http1()
        .build())
}

async fn http_send(
    client: &Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: &str,
    headers: &[(String, String)],
    gzip: bool,
    request: &Request,
) -> Result<Accepted, SendError> {
    let (path, body) = match request {
        Request::Metrics(m) => ("/v1/metrics", m.encode_to_vec()),
        Request::Logs(l) => ("/v1/logs", l.encode_to_vec()),
        Request::Traces(t) => ("/v1/traces", t.0.to_vec()),
    };
    let body = if gzip { gzipped(&body) } else { body };
    let mut builder = hyper::Request::post(format!("{base}{path}"))
        .header("content-type", "application/x-protobuf");
    if gzip {
        builder = builder.header("content-encoding", "gzip");
    }
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let http_request = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SendError::fatal(format!("building the request: {e}")))?;
    let response = client.request(http_request).await.map_err(|e| SendError {
        retryable: true,
        retry_after: None,
        message: format!("POST {base}{path}: {e}"),
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if status.is_success() {
        let accepted = match request {
            Request::Metrics(_) => ExportMetricsServiceResponse::decode(bytes)
                .map(partial_metrics)
                .unwrap_or_default(),
            Request::Logs(_) => ExportLogsServiceResponse::decode(bytes)
                .map(partial_logs)
                .unwrap_or_default(),
            Request::Traces(_) => ExportTraceServiceResponse::decode(bytes)
                .map(partial_traces)
                .unwrap_or_default(),
        };
        return Ok(accepted);
    }
    Err(SendError {
        retryable: matches!(status.as_u16(), 429 | 502 | 503 | 504),
        retry_after,
        message: format!("POST {base}{path}: HTTP {status}"),
    })
}

fn gzipped(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

fn partial_metrics(r: ExportMetricsServiceResponse) -> Accepted {
    r.partial_success
        .map(|p| Accepted {
            rejected: p.rejected_data_points,
            message: p.error_message,
        })
        .unwrap_or_default()
}

fn partial_traces(r: ExportTraceServiceResponse) -> Accepted {
    r.partial_success
        .map(|p| Accepted {
            rejected: p.rejected_spans,
            message: p.error_message,
        })
        .unwrap_or_default()
}

fn partial_logs(r: ExportLogsServiceResponse) -> Accepted {
    r.partial_success
        .map(|p| Accepted {
            rejected: p.rejected_log_records,
            message: p.error_message,
        })
        .unwrap_or_default()
}
