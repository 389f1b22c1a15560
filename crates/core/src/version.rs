//! Hybrid-logical-clock versions: `<unix ms, 13 digits>-<counter, 4 hex digits>-<node id>`.
//!
//! Versions compare by time, then counter, then node id, so any two sites' versions order
//! totally and the node id breaks ties deterministically. Because the time and counter are
//! fixed-width, comparing the formatted strings byte by byte gives the same order; the
//! databases rely on that (`COLLATE "C"` on PostgreSQL, `BINARY` on SQLite).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::UnixMillis;

/// Largest millisecond value that fits 13 digits (year 2286).
const MAX_MILLIS: u64 = 9_999_999_999_999;
/// Node ids: 1–64 characters of `[A-Za-z0-9_.-]`.
const MAX_NODE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    millis: u64,
    counter: u16,
    node: String,
}

/// Why a version string is not a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("a version looks like 1732838400123-0000-site12 (13-digit ms, 4 hex digits, node id)")]
    Shape,
    #[error("the time part must be 13 decimal digits")]
    Millis,
    #[error("the counter must be 4 lowercase hex digits")]
    Counter,
    #[error("the node id must be 1-64 characters of A-Z a-z 0-9 _ . -")]
    Node,
}

fn valid_node(node: &str) -> bool {
    !node.is_empty()
        && node.len() <= MAX_NODE_LEN
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl Version {
    pub fn new(millis: u64, counter: u16, node: &str) -> Result<Self, VersionError> {
        if millis > MAX_MILLIS {
            return Err(VersionError::Millis);
        }
        if !valid_node(node) {
            return Err(VersionError::Node);
        }
        Ok(Self {
            millis,
            counter,
            node: node.to_owned(),
        })
    }

    pub fn millis(&self) -> u64 {
        self.millis
    }

    pub fn counter(&self) -> u16 {
        self.counter
    }

    pub fn node(&self) -> &str {
        &self.node
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}-{:04x}-{}", self.millis, self.counter, self.node)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, '-');
        let (Some(millis), Some(counter), Some(node)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VersionError::Shape);
        };
        if millis.len() != 13 || !millis.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VersionError::Millis);
        }
        if counter.len() != 4
            || !counter
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(VersionError::Counter);
        }
        let millis = millis.parse().map_err(|_| VersionError::Millis)?;
        let counter = u16::from_str_radix(counter, 16).map_err(|_| VersionError::Counter)?;
        Version::new(millis, counter, node)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.millis, self.counter, self.node.as_bytes()).cmp(&(
            other.millis,
            other.counter,
            other.node.as_bytes(),
        ))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A hybrid logical clock for one node: versions it makes never go backwards, even if the
/// wall clock does, and stay close to wall-clock time.
#[derive(Debug, Clone)]
pub struct Hlc {
    node: String,
    last_millis: u64,
    counter: u16,
}

impl Hlc {
    pub fn new(node: &str) -> Result<Self, VersionError> {
        if !valid_node(node) {
            return Err(VersionError::Node);
        }
        Ok(Self {
            node: node.to_owned(),
            last_millis: 0,
            counter: 0,
        })
    }

    /// The next version at wall-clock time `now`.
    pub fn tick(&mut self, now: UnixMillis) -> Version {
        let now = now.clamp(0, MAX_MILLIS as i64) as u64;
        if now > self.last_millis {
            self.last_millis = now;
            self.counter = 0;
        } else if self.counter == u16::MAX {
            // The counter is spent within this millisecond: borrow the next one.
            self.last_millis += 1;
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        Version {
            millis: self.last_millis,
            counter: self.counter,
            node: self.node.clone(),
        }
    }

    /// Takes note of a version seen from elsewhere, so later ticks order after it.
    pub fn observe(&mut self, seen: &Version) {
        if (seen.millis, seen.counter) > (self.last_millis, self.counter) {
            self.last_millis = seen.millis;
            self.counter = seen.counter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_the_wire_form() {
        let v: Version = "1732838400123-00ff-site12".parse().unwrap();
        assert_eq!(
            (v.millis(), v.counter(), v.node()),
            (1_732_838_400_123, 255, "site12")
        );
        assert_eq!(v.to_string(), "1732838400123-00ff-site12");
        // A node id may itself contain dashes.
        assert_eq!(
            "1732838400123-0000-site-12"
                .parse::<Version>()
                .unwrap()
                .node(),
            "site-12"
        );
    }

    #[test]
    fn rejects_malformed_versions_with_a_reason() {
        for (text, err) in [
            ("12", VersionError::Shape),
            ("173283840012-0000-a", VersionError::Millis),
            ("17328384001x3-0000-a", VersionError::Millis),
            ("1732838400123-00FF-a", VersionError::Counter),
            ("1732838400123-000-a", VersionError::Counter),
            ("1732838400123-0000-", VersionError::Node),
            ("1732838400123-0000-a b", VersionError::Node),
        ] {
            assert_eq!(text.parse::<Version>(), Err(err), "{text}");
        }
    }

    #[test]
    fn orders_by_time_then_counter_then_node_and_strings_agree() {
        let versions = [
            "1732838400123-0000-b",
            "1732838400123-0001-a",
            "1732838400124-0000-a",
            "1732838400123-0000-a",
        ];
        let mut parsed: Vec<Version> = versions.iter().map(|v| v.parse().unwrap()).collect();
        parsed.sort();
        let mut strings = versions.to_vec();
        strings.sort();
        let printed: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(printed, strings);
        assert_eq!(printed[0], "1732838400123-0000-a");
    }

    #[test]
    fn the_clock_never_goes_backwards() {
        let mut hlc = Hlc::new("site1").unwrap();
        let a = hlc.tick(1_000);
        let b = hlc.tick(999); // the wall clock stepped back
        let c = hlc.tick(1_000);
        assert!(a < b && b < c);
        hlc.observe(&"0000000005000-0003-other".parse().unwrap());
        let d = hlc.tick(1_001);
        assert_eq!(d.to_string(), "0000000005000-0004-site1");
    }
}
