//! `[audit] witnesses`: the witnesses the cluster's leader sends each new checkpoint to.
//!
//! The value is a comma-separated list of `<url> <witness verifier key>` pairs, for example
//! `https://witness.example.org:8444 witness.example.org+1a2b3c4d+AX…`. A URL is `https://`,
//! or `http://` on a loopback address only (a witness on the same machine); the key is the
//! text `rampart witness public-key` prints, and a cosignature is stored only when it
//! verifies under it. An `https://` witness may be followed by `ca=/absolute/path.pem`: the
//! certificate authorities (PEM) that vouch for that witness's certificate, trusted for its
//! connections instead of the public roots (a witness behind a private CA). The file is read
//! when the node starts ([`crate::audit::cosign::Cosigner`]).

use rampart_audit::VerifierKey;

/// One configured witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessTarget {
    /// Where its `add-checkpoint` endpoint is (the URL given, without a final slash).
    pub url: String,
    /// The key its cosignatures verify under.
    pub key: VerifierKey,
    /// The PEM file of the certificate authorities trusted for its connections instead of
    /// the public roots (`ca=`), if any.
    pub ca: Option<String>,
}

impl WitnessTarget {
    /// `<name>+<hex8>`: how the store and the logs name the witness.
    pub fn label(&self) -> String {
        rampart_audit::keychain::key_label(&self.key)
    }
}

/// Parses the list; an error says what is wrong with which entry.
pub fn parse_witnesses(text: &str) -> Result<Vec<WitnessTarget>, String> {
    let mut out: Vec<WitnessTarget> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split_whitespace();
        let (Some(url), Some(key), ca, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{entry:?} is not `<url> <witness verifier key> [ca=/path/to/ca.pem]`; entries are separated by commas"
            ));
        };
        let ca = match ca.map(|c| c.strip_prefix("ca=")) {
            None => None,
            Some(None) => {
                return Err(format!(
                    "after the key of {url:?} only `ca=/absolute/path.pem` may follow"
                ))
            }
            Some(Some(path)) if !url.starts_with("https://") => {
                return Err(format!(
                    "{url:?} is not https://, so the CA file {path:?} would vouch for nothing"
                ))
            }
            Some(Some(path)) if !std::path::Path::new(path).is_absolute() => {
                return Err(format!(
                    "the CA file {path:?} of {url:?} is not an absolute path"
                ))
            }
            Some(Some(path)) => Some(path.to_owned()),
        };
        if !super::alerts::https_or_loopback(url) {
            return Err(format!(
                "{url:?} is not an https:// URL (http:// only on a loopback address)"
            ));
        }
        let key = VerifierKey::parse(key).map_err(|e| format!("the key after {url:?}: {e}"))?;
        if out.iter().any(|w| w.key == key) {
            return Err(format!("the witness key after {url:?} is listed twice"));
        }
        out.push(WitnessTarget {
            url: url.trim_end_matches('/').to_owned(),
            key,
            ca,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_urls_with_keys_and_bad_ones_are_named() {
        let key = rampart_audit::SigningKey::from_seed("w.example", [3; 32])
            .unwrap()
            .verifier_key();
        let other = rampart_audit::SigningKey::from_seed("v.example", [4; 32])
            .unwrap()
            .verifier_key();
        let list = parse_witnesses(&format!(
            "https://w.example:8444/ {key} ca=/etc/rampart/w-ca.pem, http://127.0.0.1:9 {other}"
        ))
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].url, "https://w.example:8444");
        assert_eq!(list[0].ca.as_deref(), Some("/etc/rampart/w-ca.pem"));
        assert_eq!(list[1].ca, None);
        assert_eq!(
            list[0].label(),
            format!("w.example+{:08x}", list[0].key.key_hash())
        );
        assert!(parse_witnesses("").unwrap().is_empty());
        for bad in [
            format!("http://203.0.113.9 {key}"),
            format!("https://w.example {key} extra"),
            "https://w.example not-a-key".to_owned(),
            format!("https://a.example {key}, https://b.example {key}"),
            format!("https://w.example {key} ca=relative/ca.pem"),
            format!("https://w.example {key} /etc/ca.pem"),
            format!("http://127.0.0.1:9 {key} ca=/etc/ca.pem"),
            format!("https://w.example {key} ca=/etc/ca.pem more"),
        ] {
            assert!(parse_witnesses(&bad).is_err(), "{bad}");
        }
    }
}
