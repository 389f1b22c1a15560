//! OAuth scopes: what a client may do with its tokens.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One permission a client can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    SyncWrite,
    ConfigRead,
    ConfigWrite,
    AuditRead,
    StatsRead,
    /// Manage the sites of one's own tenant (the admin API). Granted only from the server's
    /// command line, never through the API.
    ClientsAdmin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::SyncWrite,
        Scope::ConfigRead,
        Scope::ConfigWrite,
        Scope::AuditRead,
        Scope::StatsRead,
        Scope::ClientsAdmin,
    ];

    /// The scopes a site may hold when an admin registers it over the API.
    pub const SITE: [Scope; 2] = [Scope::SyncWrite, Scope::ConfigRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SyncWrite => "sync:write",
            Scope::ConfigRead => "config:read",
            Scope::ConfigWrite => "config:write",
            Scope::AuditRead => "audit:read",
            Scope::StatsRead => "stats:read",
            Scope::ClientsAdmin => "clients:admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope string that names no known scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?}; known scopes: sync:write config:read config:write audit:read stats:read clients:admin"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes, written on the wire as space-separated names (RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The default for a newly registered site: it syncs and reads its configuration.
    pub fn site_default() -> Self {
        Self(Scope::SITE.into_iter().collect())
    }

    /// Every scope but `clients:admin`: a site that also reads the tenant's audit and
    /// statistics (the demo site, benchmarks).
    pub fn all_but_admin() -> Self {
        Self(
            Scope::ALL
                .into_iter()
                .filter(|s| *s != Scope::ClientsAdmin)
                .collect(),
        )
    }

    /// Whether this is an admin credential's set (it may manage the tenant's sites).
    pub fn is_admin(&self) -> bool {
        self.contains(Scope::ClientsAdmin)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl FromStr for ScopeSet {
    type Err = UnknownScope;
    /// Parses space-separated scope names; repeated names collapse, empty input is the empty set.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(' ')
            .filter(|part| !part.is_empty())
            .map(Scope::from_str)
            .collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_in_a_stable_order() {
        let set: ScopeSet = "stats:read sync:write  sync:write".parse().unwrap();
        assert_eq!(set.to_string(), "sync:write stats:read");
    }

    #[test]
    fn rejects_an_unknown_scope_by_name() {
        let err = "sync:write admin".parse::<ScopeSet>().unwrap_err();
        assert_eq!(err, UnknownScope("admin".into()));
    }

    #[test]
    fn subset_is_what_a_token_request_may_ask_for() {
        let granted: ScopeSet = "sync:write config:read".parse().unwrap();
        assert!("config:read"
            .parse::<ScopeSet>()
            .unwrap()
            .is_subset_of(&granted));
        assert!(!"audit:read"
            .parse::<ScopeSet>()
            .unwrap()
            .is_subset_of(&granted));
    }
}
