//! Component and pipeline identifiers: `type[/name]` and `signal[/name]`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::settings::Signal;

/// `type[/name]`, e.g. `tcp`, `otlp/backup`. The type selects the implementation; the
/// name tells two instances of one type apart.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    kind: String,
    name: Option<String>,
}

/// Why a string is not a valid id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty type or empty name.
    #[error("\"{0}\" is not a valid id: expected `type` or `type/name` with neither part empty")]
    Empty(String),
    /// Characters outside `[a-z0-9_-]` in the type or `[A-Za-z0-9_.-]` in the name.
    #[error("\"{0}\" is not a valid id: the type may hold a-z, 0-9 and _, the name also A-Z, '.', and '-'")]
    BadCharacter(String),
    /// The pipeline type is not a signal.
    #[error("\"{0}\" is not a valid pipeline id: the type must be `metrics`, `logs` or `traces`")]
    UnknownSignal(String),
}

impl ComponentId {
    /// The implementation type (`otlp` in `otlp/backup`).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The instance name (`backup` in `otlp/backup`), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl FromStr for ComponentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (k, Some(n)),
            None => (s, None),
        };
        if kind.is_empty() || name.is_some_and(str::is_empty) {
            return Err(IdError::Empty(s.to_string()));
        }
        let kind_ok = kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let name_ok = name.is_none_or(|n| {
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        });
        if !kind_ok || !name_ok {
            return Err(IdError::BadCharacter(s.to_string()));
        }
        Ok(Self {
            kind: kind.to_string(),
            name: name.map(str::to_string),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.kind, n),
            None => f.write_str(&self.kind),
        }
    }
}

/// `signal[/name]`, e.g. `metrics`, `logs/security`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipelineId {
    signal: Signal,
    name: Option<String>,
}

impl PipelineId {
    /// The signal this pipeline carries.
    pub fn signal(&self) -> Signal {
        self.signal
    }
}

impl FromStr for PipelineId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id: ComponentId = s.parse()?;
        let signal = match id.kind() {
            "metrics" => Signal::Metrics,
            "logs" => Signal::Logs,
            "traces" => Signal::Traces,
            _ => return Err(IdError::UnknownSignal(s.to_string())),
        };
        Ok(Self {
            signal,
            name: id.name,
        })
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

/// Parses an id inside the visitor, so that yaml_serde reports errors with the path.
struct IdVisitor<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = IdError>> serde::de::Visitor<'_> for IdVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id such as `type` or `type/name`")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(IdVisitor::<$ty>(std::marker::PhantomData))
            }
        }
    };
}
string_serde!(ComponentId);
string_serde!(PipelineId);
