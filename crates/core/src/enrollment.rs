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
        let url = url::Url::parse(&enrollment.server)
            .map_err(|e| EnrollmentError::BadServerUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EnrollmentError::BadServerUrl(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        if enrollment.client_id.is_empty() || enrollment.client_secret.is_empty() {
            return Err(EnrollmentError::MissingCredential);
        }
        Ok(enrollment)
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
}
