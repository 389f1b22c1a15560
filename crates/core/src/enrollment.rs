//! The enrollment string an admin pastes into an agent once: server URL, client id and secret.
//!
//! Format: `kendrix1:` followed by base64url (no padding) of a JSON object
//! `{"server": "...", "client_id": "...", "client_secret": "..."}`. One opaque line, so it
//! survives copy and paste through chat and e-mail; the version prefix lets it evolve.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;

const PREFIX: &str = "kendrix1:";

/// Everything an agent needs to enroll against a server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub server: String,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment")
            .field("server", &self.server)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Why a pasted enrollment string cannot be used (never echoes the string: it holds a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollmentError {
    #[error("an enrollment string starts with \"kendrix1:\"; ask the admin for the string printed by `kendrix-server client register`")]
    MissingPrefix,
    #[error("the enrollment string is damaged (not valid base64url); copy it again in one piece")]
    NotBase64,
    #[error("the enrollment string is damaged (not the expected JSON object); copy it again in one piece")]
    NotJson,
    #[error("the enrollment string names no usable server URL: {0}")]
    BadServerUrl(String),
    #[error("the enrollment string has an empty client id or secret")]
    MissingCredential,
    /// `http://` to a server that is not this machine: the secret would travel in clear.
    #[error("{0} is not encrypted (http://): the client secret would travel in clear; use the server's https:// address (http:// is accepted only for this machine: 127.0.0.0/8, ::1, localhost)")]
    InsecureServer(String),
}

/// The server URL an agent may send its secret to, in the one form everything is keyed by
/// (keychain entries, the enrollment remembered): trailing slashes dropped, so
/// `https://sync.example/` and `https://sync.example` are one server. `http://` is accepted
/// only for loopback addresses (127.0.0.0/8, ::1, localhost).
pub fn server_url(text: &str) -> Result<String, EnrollmentError> {
    let server = text.trim().trim_end_matches('/');
    let url = url::Url::parse(server).map_err(|e| EnrollmentError::BadServerUrl(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(EnrollmentError::InsecureServer(server.to_owned())),
        other => {
            return Err(EnrollmentError::BadServerUrl(format!(
                "scheme {other:?} is not http or https"
            )))
        }
    }
    if url.host().is_none() {
        return Err(EnrollmentError::BadServerUrl("it names no host".into()));
    }
    Ok(server.to_owned())
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Enrollment {
    /// The single line to hand to a site.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("enrollment serializes");
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Parses and checks a pasted string; surrounding whitespace is ignored.
    pub fn decode(text: &str) -> Result<Self, EnrollmentError> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(EnrollmentError::MissingPrefix)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| EnrollmentError::NotBase64)?;
        let enrollment: Enrollment =
            serde_json::from_slice(&json).map_err(|_| EnrollmentError::NotJson)?;
        enrollment.checked()
    }

    /// This enrollment with its server URL in the one form it is kept under (see
    /// [`server_url`]), if it is one an agent may send its secret to.
    pub fn checked(self) -> Result<Self, EnrollmentError> {
        let server = server_url(&self.server)?;
        if self.client_id.is_empty() || self.client_secret.is_empty() {
            return Err(EnrollmentError::MissingCredential);
        }
        Ok(Self { server, ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Enrollment {
        Enrollment {
            server: "http://127.0.0.1:8080".into(),
            client_id: "kxc_0011".into(),
            client_secret: "kxs_secret".into(),
        }
    }

    #[test]
    fn round_trips_through_one_pasteable_line() {
        let line = sample().encode();
        assert!(line.starts_with("kendrix1:") && !line.contains(char::is_whitespace));
        assert_eq!(
            Enrollment::decode(&format!("  {line}\n")).unwrap(),
            sample()
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert!(!format!("{:?}", sample()).contains("kxs_secret"));
    }

    #[test]
    fn damaged_strings_say_what_to_do() {
        assert_eq!(
            Enrollment::decode("hello"),
            Err(EnrollmentError::MissingPrefix)
        );
        assert_eq!(
            Enrollment::decode("kendrix1:@@"),
            Err(EnrollmentError::NotBase64)
        );
        let mut bad = sample();
        bad.server = "ftp://x".into();
        assert!(matches!(
            Enrollment::decode(&bad.encode()),
            Err(EnrollmentError::BadServerUrl(_))
        ));
    }

    #[test]
    fn http_is_accepted_only_for_this_machine() {
        for local in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://[::1]:9000",
            "http://localhost:8080",
            "http://LOCALHOST",
            "https://sync.example.com",
            "https://10.0.0.5:8443/kendrix",
        ] {
            assert!(server_url(local).is_ok(), "{local}");
        }
        for remote in [
            "http://10.0.0.5:8080",
            "http://sync.example.com",
            "http://localhost.example.com",
            "http://[::2]",
            "http://0.0.0.0:8080",
        ] {
            let refused = server_url(remote).unwrap_err();
            assert!(
                matches!(refused, EnrollmentError::InsecureServer(_)),
                "{remote}: {refused:?}"
            );
            assert!(refused.to_string().contains("https://"), "{refused}");
        }
        let mut string = sample();
        string.server = "http://192.168.1.20:8080".into();
        assert!(matches!(
            Enrollment::decode(&string.encode()),
            Err(EnrollmentError::InsecureServer(_))
        ));
    }

    #[test]
    fn a_trailing_slash_names_the_same_server() {
        assert_eq!(
            server_url(" https://sync.example.com/ ").unwrap(),
            "https://sync.example.com"
        );
        assert_eq!(
            server_url("http://127.0.0.1:8080//").unwrap(),
            "http://127.0.0.1:8080"
        );
        let mut string = sample();
        string.server = "http://127.0.0.1:8080/".into();
        assert_eq!(
            Enrollment::decode(&string.encode()).unwrap().server,
            "http://127.0.0.1:8080"
        );
    }
}
