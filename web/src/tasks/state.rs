//! The states a task and one of its runs go through, stored as text in `tasks.state` and `task_runs.state`.
//!
//! ```text
//! queued ─▶ running ─▶ succeeded
//!              │
//!              ├─▶ retrying ─▶ running ...
//!              └─▶ dead ─(app tasks retry)─▶ queued
//!
//! queued, retrying ─(cancelled from the dashboard)─▶ cancelled
//! ```

use std::fmt;
use std::str::FromStr;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::Serialize;

/// Where a task stands (`tasks.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting in the outbox or on a queue.
    Queued,
    /// A worker has it.
    Running,
    /// An attempt failed; the next one waits in a delay queue.
    Retrying,
    Succeeded,
    /// Every attempt failed; the message is in the dead-letter queue.
    Dead,
    /// Cancelled before a worker took it; the worker that receives its message skips it.
    Cancelled,
}

impl TaskState {
    pub const ALL: [Self; 6] =
        [Self::Queued, Self::Running, Self::Retrying, Self::Succeeded, Self::Dead, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// Still waiting for a worker, so it can be cancelled.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Queued | Self::Retrying)
    }
}

/// How one attempt ended (`task_runs.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    /// The task had been cancelled when its message arrived; it did not run.
    Skipped,
}

impl RunState {
    pub const ALL: [Self; 4] = [Self::Running, Self::Succeeded, Self::Failed, Self::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// Text form, FromStr and the diesel mapping, the same for both enums.
macro_rules! text_enum {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::ALL.into_iter().find(|state| state.as_str() == value).ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|state| state.as_str()).collect();
                    format!("unknown {} {value:?} (known: {})", stringify!($name), known.join(", "))
                })
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                Ok(text.parse()?)
            }
        }
    };
}

text_enum!(TaskState);
text_enum!(RunState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>(), Ok(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for state in RunState::ALL {
            assert_eq!(state.to_string().parse::<RunState>(), Ok(state));
        }
        assert!("finished".parse::<TaskState>().unwrap_err().contains("queued, running"));
    }
}
