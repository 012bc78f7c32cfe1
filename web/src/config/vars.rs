//! Looking variables up: the process environment (with Docker's `NAME_FILE` secrets) or a fixed map for tests,
//! and the typed reads every section uses (required, optional, defaulted, boolean, positive, URL scheme).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::{ConfigError, Secret, VARIABLES};

/// `FromStr` for a configuration choice: each variant with its text; the error lists every accepted text.
macro_rules! text_choice {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("expected one of {}; got {other:?}", [$($text),+].join(", "))),
                }
            }
        }
    };
}
pub(crate) use text_choice;

/// Reads variables from a lookup function, so tests can configure without touching the process environment.
pub struct Vars<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> fmt::Debug for Vars<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vars")
    }
}

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment. A variable set to the empty string counts as unset. When `NAME` is unset and
    /// `NAME_FILE` names a file (a Docker secret such as `/run/secrets/database_url`), the file's content without
    /// its trailing newline is the value (a missing file leaves the variable unset); [`check_secret_files`] reports an
    /// unreadable one at start-up.
    pub fn from_env() -> Self {
        fn lookup(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|value| !value.is_empty()).or_else(|| read_secret_file(name).ok().flatten())
        }
        Vars { lookup }
    }
}

/// Variables from a fixed map, see [`Vars::from_map`].
pub type MapLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl Vars<MapLookup> {
    /// A fixed set of variables (tests).
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Vars { lookup: Box::new(move |name| map.get(name).cloned()) }
    }
}

/// The path `NAME_FILE` names, when it is set and not empty.
fn secret_file_path(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(format!("{name}_FILE")).filter(|path| !path.is_empty())
}

/// The value of `NAME` from the file `NAME_FILE` names; `Ok(None)` when `NAME_FILE` is unset.
fn read_secret_file(name: &str) -> Result<Option<String>, String> {
    let Some(path) = secret_file_path(name) else {
        return Ok(None);
    };
    if !std::path::Path::new(&path).exists() {
        // Not there (yet): the variable counts as unset, and "is required but not set" names the file.
        return Ok(None);
    }
    let content = std::fs::read_to_string(&path)
        .map_err(|err| format!("{name}_FILE: cannot read {}: {err}", std::path::Path::new(&path).display()))?;
    let value = content.strip_suffix('\n').unwrap_or(&content);
    let value = value.strip_suffix('\r').unwrap_or(value);
    Ok(Some(value.to_string()))
}

/// "is required but not set", naming the file `NAME_FILE` points at when that is set but missing.
fn not_set(name: &str) -> String {
    match secret_file_path(name) {
        Some(path) => format!("is required but not set ({name}_FILE names {}, which does not exist)", path.display()),
        None => "is required but not set".into(),
    }
}

/// Fails when any `NAME_FILE` of [`VARIABLES`] names a file that exists but cannot be read, or is set together
/// with `NAME`.
pub fn check_secret_files() -> Result<(), String> {
    for name in VARIABLES {
        if secret_file_path(name).is_some() && std::env::var_os(name).is_some_and(|value| !value.is_empty()) {
            return Err(format!("both {name} and {name}_FILE are set; keep one"));
        }
        read_secret_file(name)?;
    }
    Ok(())
}

/// Fails unless `value` starts with one of `schemes` (given without `://`), naming the variable.
pub fn scheme(name: &'static str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let matches = schemes.iter().any(|scheme| value.strip_prefix(scheme).is_some_and(|rest| rest.starts_with("://")));
    if matches {
        return Ok(());
    }
    let listed: Vec<String> = schemes.iter().map(|scheme| format!("{scheme}://")).collect();
    let problem = match listed.split_last() {
        Some((last, [])) => format!("must start with {last}"),
        Some((last, rest)) => format!("must start with {} or {last}", rest.join(", ")),
        None => "has no allowed scheme".into(),
    };
    Err(ConfigError { name, problem })
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    pub fn required<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(name)? {
            Some(value) => Ok(value),
            None => Err(ConfigError { name, problem: not_set(name) }),
        }
    }

    pub fn optional<T>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        raw.trim().parse().map(Some).map_err(|err: T::Err| ConfigError {
            name,
            // The value itself is not echoed: it may be a secret.
            problem: format!("cannot be parsed: {err}"),
        })
    }

    pub fn or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    pub fn secret(&self, name: &'static str) -> Result<Secret, ConfigError> {
        self.raw(name).map(Secret::new).ok_or_else(|| ConfigError { name, problem: not_set(name) })
    }

    /// A URL-valued variable with a default, checked against `schemes`.
    pub fn url_or(&self, name: &'static str, default: &str, schemes: &[&str]) -> Result<String, ConfigError> {
        let url = self.raw(name).unwrap_or_else(|| default.to_string());
        scheme(name, &url, schemes)?;
        Ok(url)
    }

    /// An optional URL-valued variable, checked against `schemes` when set.
    pub fn optional_url(&self, name: &'static str, schemes: &[&str]) -> Result<Option<String>, ConfigError> {
        let url = self.raw(name);
        if let Some(url) = &url {
            scheme(name, url, schemes)?;
        }
        Ok(url)
    }

    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError { name, problem: format!("expected true or false; got {other:?}") }),
        }
    }

    pub fn positive<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Default,
        T::Err: fmt::Display,
    {
        let value = self.or(name, default)?;
        if value > T::default() {
            Ok(value)
        } else {
            Err(ConfigError { name, problem: "must be greater than zero".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_every_allowed_prefix() {
        assert!(scheme("X", "https://a", &["http", "https"]).is_ok());
        assert!(scheme("X", "httpsx://a", &["http", "https"]).is_err());
        let err = scheme("X", "a.example", &["http", "https"]).unwrap_err();
        assert_eq!(err.problem, "must start with http:// or https://");
        let err = scheme("X", "a", &["smtp"]).unwrap_err();
        assert_eq!(err.problem, "must start with smtp://");
    }
}
