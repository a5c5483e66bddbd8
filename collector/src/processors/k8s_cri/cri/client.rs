//! A CRI v1 client over a unix socket: every call has a timeout and is counted per RPC
//! (`kotel.k8s_cri.calls`, `kotel.k8s_cri.call.duration_us`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    Container, ContainerEventResponse, ContainerStatusRequest, ContainerStatusResponse,
    GetEventsRequest, ListContainersRequest, ListPodSandboxRequest, PodSandbox, VersionRequest,
    VersionResponse,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Streaming};

use crate::telemetry::names;

/// Largest answer accepted (a `ListContainers` of a busy node stays far below it).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Why a CRI call failed.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The socket could not be connected.
    #[error("cannot connect to {socket}: {reason}")]
    Connect {
        /// The socket tried.
        socket: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The call did not answer within the timeout.
    #[error("{rpc} timed out after {timeout:?}")]
    Timeout {
        /// The RPC name.
        rpc: &'static str,
        /// The timeout that fired.
        timeout: Duration,
    },
    /// The runtime answered with an error status (or an answer that did not decode).
    #[error("{rpc} failed: {code:?}: {message}")]
    Status {
        /// The RPC name.
        rpc: &'static str,
        /// The gRPC status code.
        code: Code,
        /// The runtime's message.
        message: String,
    },
}

impl CriError {
    /// True when the runtime does not implement the RPC at all.
    pub fn is_unimplemented(&self) -> bool {
        matches!(
            self,
            CriError::Status {
                code: Code::Unimplemented,
                ..
            }
        )
    }

    /// True when the connection itself is in doubt (reconnect rather than go on).
    pub fn is_transport(&self) -> bool {
        match self {
            CriError::Connect { .. } | CriError::Timeout { .. } => true,
            CriError::Status { code, .. } => {
                matches!(code, Code::Unavailable | Code::Unknown | Code::Cancelled)
            }
        }
    }
}

/// A connected runtime.
pub struct CriClient {
    rpc: RuntimeServiceClient<Channel>,
    timeout: Duration,
    component: String,
}

impl CriClient {
    /// Connects to `socket`; `timeout` bounds the connect and every later call.
    pub async fn connect(
        socket: &Path,
        timeout: Duration,
        component: &str,
    ) -> Result<Self, CriError> {
        let target = socket.to_path_buf();
        let connector = tower::service_fn(move |_| {
            let target = target.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(target).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        let connect_error = |reason: String| CriError::Connect {
            socket: socket.to_path_buf(),
            reason,
        };
        // The URI is a placeholder: the connector always dials the socket.
        let endpoint = Endpoint::from_static("http://cri.local").connect_timeout(timeout);
        let channel = tokio::time::timeout(timeout, endpoint.connect_with_connector(connector))
            .await
            .map_err(|_| connect_error(format!("no answer within {timeout:?}")))?
            .map_err(|e| connect_error(error_chain(&e)))?;
        let rpc = RuntimeServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Self {
            rpc,
            timeout,
            component: component.to_string(),
        })
    }

    /// `Version`: the runtime's name and version.
    pub async fn version(&mut self) -> Result<VersionResponse, CriError> {
        let request = VersionRequest {
            version: "v1".into(),
        };
        let mut rpc = self.rpc.clone();
        self.call("Version", rpc.version(request)).await
    }

    /// `ListContainers` without a filter: every container the runtime knows, any state.
    pub async fn list_containers(&mut self) -> Result<Vec<Container>, CriError> {
        let mut rpc = self.rpc.clone();
        let answer = self
            .call(
                "ListContainers",
                rpc.list_containers(ListContainersRequest { filter: None }),
            )
            .await?;
        Ok(answer.containers)
    }

    /// `ListPodSandbox` without a filter (for pod labels).
    pub async fn list_pod_sandboxes(&mut self) -> Result<Vec<PodSandbox>, CriError> {
        let mut rpc = self.rpc.clone();
        let answer = self
            .call(
                "ListPodSandbox",
                rpc.list_pod_sandbox(ListPodSandboxRequest { filter: None }),
            )
            .await?;
        Ok(answer.items)
    }

    /// `ContainerStatus` with `verbose` (pid and runtime spec in `info`).
    pub async fn container_status(
        &mut self,
        id: &str,
    ) -> Result<ContainerStatusResponse, CriError> {
        let request = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: true,
        };
        let mut rpc = self.rpc.clone();
        self.call("ContainerStatus", rpc.container_status(request))
            .await
    }

    /// `GetContainerEvents`: the runtime's container event stream, or `None` when the
    /// runtime does not offer one (containerd before 1.7). The stream itself has no
    /// timeout; only opening it does.
    pub async fn container_events(
        &mut self,
    ) -> Result<Option<Streaming<ContainerEventResponse>>, CriError> {
        let mut rpc = self.rpc.clone();
        match self
            .call(
                "GetContainerEvents",
                rpc.get_container_events(GetEventsRequest {}),
            )
            .await
        {
            Ok(stream) => Ok(Some(stream)),
            Err(e) if e.is_unimplemented() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs one call with the timeout and counts it.
    async fn call<T>(
        &self,
        rpc: &'static str,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, CriError> {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(CriError::Timeout {
                rpc,
                timeout: self.timeout,
            }),
            Ok(Err(status)) => Err(CriError::Status {
                rpc,
                code: status.code(),
                message: status.message().to_string(),
            }),
            Ok(Ok(answer)) => Ok(answer.into_inner()),
        };
        let label = match &outcome {
            Ok(_) => "ok",
            Err(CriError::Timeout { .. }) => "timeout",
            Err(e) if e.is_unimplemented() => "unimplemented",
            Err(_) => "error",
        };
        let micros = started.elapsed().as_micros() as u64;
        let labels = [
            (names::COMPONENT_ID, self.component.clone()),
            ("rpc", rpc.to_string()),
        ];
        metrics::counter!(names::K8S_CRI_CALL_DURATION_US, &labels).increment(micros);
        let mut with_outcome = labels.to_vec();
        with_outcome.push(("outcome", label.to_string()));
        metrics::counter!(names::K8S_CRI_CALLS, &with_outcome).increment(1);
        outcome
    }
}

/// `e` and its sources, joined: tonic's transport errors hide the cause one level down.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
