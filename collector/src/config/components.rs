//! The registry: one serde enum per component role, tagged by the component type (the
//! part of the id before `/`), each type listed once. Everything else about a type (its
//! name, signals, checks and how it builds) it declares in its own folder through the
//! traits of [`crate::component::kind`]; the enums dispatch to them.
//!
//! Adding a component type is its folder plus one line here.

use serde::{Deserialize, Serialize};

use crate::component::kind::{Declared, ExporterType, Kind, ProcessorType, Shared, SourceType};
use crate::component::{Exporter, Processor, Source};
use crate::exporters::debug::DebugExporterConfig;
use crate::exporters::otlp::OtlpExporterConfig;
use crate::exporters::prometheus::PrometheusExporterConfig;
use crate::processors::aggregate::AggregateConfig;
use crate::processors::filter::FilterProcessorConfig;
use crate::processors::k8s_cri::K8sCriConfig;
use crate::processors::sampling::SamplingConfig;
use crate::settings::{ComponentId, ConfigError, Signal};
use crate::sources::exec::ExecSourceConfig;
use crate::sources::file_open::FileOpenSourceConfig;
use crate::sources::l7::L7SourceConfig;
use crate::sources::replay::ReplaySourceConfig;
use crate::sources::tcp::TcpSourceConfig;

/// Declares one role's config enum and its dispatch: `KINDS`, `kind`, `signals`,
/// `validate`, `build`, and `declared` for the role's own trait.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        $name:ident: $role:ident => $built:ident {
            $( $(#[$vmeta:meta])* $variant:ident($config:ty), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($config), )+
        }

        impl $name {
            /// Every type as written in ids, in variant order.
            pub const KINDS: &'static [&'static str] = &[$(<$config as Kind>::KIND),+];

            /// One example of every type, in variant order ([`Declared::example`]).
            pub fn examples() -> Vec<Self> {
                vec![$( Self::$variant(<$config as Declared>::example()), )+]
            }

            /// This component's type as written in ids.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => <$config as Kind>::KIND, )+
                }
            }

            /// What the type declares about itself.
            pub fn declared(&self) -> &dyn $role {
                match self {
                    $( Self::$variant(c) => c, )+
                }
            }

            /// The signals this component can carry.
            pub fn signals(&self) -> &'static [Signal] {
                self.declared().signals()
            }

            /// Checks beyond what the types enforce; paths are below the component.
            pub fn validate(&self) -> Vec<ConfigError> {
                self.declared().validate()
            }

            /// A running instance for `id`.
            pub fn build(&self, id: &ComponentId, shared: &Shared) -> Box<dyn $built> {
                self.declared().build(id, shared)
            }
        }
    };
}

registry! {
    /// Configuration of one source, by type.
    SourceConfig: SourceType => Source {
        /// TCP connection lifecycle from the kernel (`sock:inet_sock_set_state`).
        Tcp(TcpSourceConfig),
        /// Successful execs from the kernel, with argv.
        Exec(ExecSourceConfig),
        /// Opens of watched paths, matched in the kernel.
        FileOpen(FileOpenSourceConfig),
        /// HTTP/1.x requests and responses from the socket syscalls.
        L7(L7SourceConfig),
        /// Events read back from a JSON-lines file (`kotel run --record` writes those).
        Replay(ReplaySourceConfig),
    }
}

registry! {
    /// Configuration of one processor, by type.
    ProcessorConfig: ProcessorType => Processor {
        /// Keeps or drops events by kind, process name and port.
        Filter(FilterProcessorConfig),
        /// Attributes events to containers, pods and namespaces through the CRI.
        K8sCri(K8sCriConfig),
        /// Turns events into metrics per attribute set.
        Aggregate(AggregateConfig),
        /// Keeps a share of the HTTP spans: errors, slow requests, a ratio of the rest.
        Sampling(SamplingConfig),
    }
}

registry! {
    /// Configuration of one exporter, by type. (The `otlp` variant is larger than the
    /// others; there are a handful of these per agent, so it is not boxed.)
    #[allow(clippy::large_enum_variant)]
    ExporterConfig: ExporterType => Exporter {
        /// Readable lines on stdout, like the Collector's debug exporter.
        Debug(DebugExporterConfig),
        /// OTLP metrics and logs over gRPC or HTTP.
        Otlp(OtlpExporterConfig),
        /// A Prometheus scrape endpoint.
        Prometheus(PrometheusExporterConfig),
    }
}

impl SourceConfig {
    /// True when the source needs root / CAP_BPF (it loads kernel programs).
    pub fn needs_kernel(&self) -> bool {
        self.declared().needs_kernel()
    }
}

impl ExporterConfig {
    /// See [`ExporterType::takes_telemetry_outside_metrics_pipelines`].
    pub fn takes_telemetry_outside_metrics_pipelines(&self) -> bool {
        self.declared().takes_telemetry_outside_metrics_pipelines()
    }
}
