//! Cloudinary, reached with reqwest: request signing, signed direct-upload
//! parameters for the app, server-side upload and destroy, delivery URLs, and
//! the magic-byte check that keeps non-images away from it.
//!
//! The API base comes from configuration so tests can point the client at a
//! local fake that checks signatures the way Cloudinary does.

use std::fmt;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use url::Url;

use crate::config::CloudinaryConfig;
use crate::error::ApiError;

/// Cloudinary's delivery host; not configurable because the fake never serves
/// images, and a URL pointing at it would be useless to the app anyway.
pub const DELIVERY_HOST: &str = "https://res.cloudinary.com";

/// Automatic format and quality: Cloudinary picks WebP/AVIF and a compression
/// level per requesting browser, which is what keeps product photos light on
/// the terminals' connections.
pub const DELIVERY_TRANSFORMATION: &str = "f_auto,q_auto";

/// Parameters Cloudinary leaves out of the string to sign.
const UNSIGNED_PARAMS: [&str; 4] = ["file", "cloud_name", "resource_type", "api_key"];

/// Signs request parameters as Cloudinary documents for authenticated POSTs
/// ("Generating authentication signatures"): every parameter except `file`,
/// `cloud_name`, `resource_type`, `api_key` and empty ones, sorted by name,
/// joined as `k=v` with `&`, the API secret appended, SHA-1, lowercase hex.
///
/// A `signature` parameter is never part of what it signs, so it is skipped
/// too; that lets a caller sign the very list it is about to send.
pub fn sign(params: &[(&str, String)], api_secret: &str) -> String {
    let mut signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && *k != "signature" && !UNSIGNED_PARAMS.contains(k))
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    signed.sort_unstable();
    let to_sign = signed
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut hasher = Sha1::new();
    hasher.update(to_sign.as_bytes());
    hasher.update(api_secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// The product-photo URL the app shows: automatic format and quality.
pub fn delivery_url(cloud_name: &str, public_id: &str) -> String {
    format!(
        "{DELIVERY_HOST}/{}/image/upload/{DELIVERY_TRANSFORMATION}/{}",
        encode_path(cloud_name),
        encode_path(public_id)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`,
/// which Cloudinary public ids use as folder separators.
fn encode_path(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Recognises the image formats Cloudinary accepts from a phone camera by
/// their magic bytes, returning the MIME type; the client's declared content
/// type is not trusted, so anything else is refused (415) before upload.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some("image/gif");
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    sniff_isobmff(bytes)
}

/// HEIC (iPhone photos) and AVIF are ISO base media files: an `ftyp` box whose
/// major brand, or for the generic `mif1`/`msf1` brands a compatible brand,
/// names the codec.
fn sniff_isobmff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    let box_len = u32::from_be_bytes(bytes[0..4].try_into().ok()?) as usize;
    let brand_of = |b: &[u8]| match b {
        b"avif" | b"avis" => Some("image/avif"),
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => Some("image/heic"),
        _ => None,
    };
    let major = &bytes[8..12];
    if let Some(mime) = brand_of(major) {
        return Some(mime);
    }
    if major != b"mif1" && major != b"msf1" {
        return None;
    }
    // Compatible brands follow the major brand and the 4-byte minor version.
    let end = box_len.clamp(16, bytes.len());
    let compatible = bytes[16..end].chunks_exact(4);
    let mut found = None;
    for brand in compatible {
        match brand_of(brand) {
            Some("image/avif") => return Some("image/avif"),
            Some(mime) => found = Some(mime),
            None => {}
        }
    }
    Some(found.unwrap_or("image/heif"))
}

#[derive(Debug, thiserror::Error)]
pub enum CloudinaryError {
    /// Connecting, timing out, or reading the answer failed. reqwest's message
    /// names the URL, which never carries the secret (it travels in no request).
    #[error("Cloudinary request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// Cloudinary answered with an error; `message` is its `error.message`.
    #[error("Cloudinary refused the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("unexpected answer from Cloudinary: {0}")]
    Unexpected(String),
}

impl CloudinaryError {
    /// Worth retrying later: Cloudinary unreachable, overloaded or rate
    /// limiting, as opposed to refusing what was sent.
    pub fn is_transient(&self) -> bool {
        match self {
            // A builder error (say, an invalid content type) is ours to fix.
            CloudinaryError::Http(e) => !e.is_builder(),
            CloudinaryError::Rejected { status, .. } => {
                *status == 420 || *status == 429 || *status >= 500
            }
            CloudinaryError::Unexpected(_) => false,
        }
    }
}

impl From<CloudinaryError> for ApiError {
    fn from(err: CloudinaryError) -> Self {
        match &err {
            e if e.is_transient() => {
                tracing::error!(error = %err, "Cloudinary unavailable");
                ApiError::ServiceUnavailable("The image service is unavailable. Try again.".into())
            }
            // Passed our magic-byte check but Cloudinary could not decode it
            // (truncated or corrupt file): the client's fault, not ours.
            CloudinaryError::Rejected {
                status: 400,
                message,
            } if message.starts_with("Invalid image file") => {
                ApiError::UnsupportedMediaType("The file is not a readable image.".into())
            }
            // Anything else (bad signature, stale timestamp, wrong key) is a
            // configuration or signing fault on our side.
            _ => ApiError::internal(err),
        }
    }
}

/// What the app needs to upload a photo straight to Cloudinary (Vercel caps
/// request bodies at 4.5 MB, so big photos cannot pass through the API). The
/// app posts `file`, `api_key`, `timestamp`, `folder`, `public_id` and
/// `signature` to `upload_url`, and nothing else, or the signature fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedUpload {
    pub cloud_name: String,
    pub api_key: String,
    /// Unix seconds; Cloudinary refuses a signature more than an hour old.
    pub timestamp: i64,
    pub signature: String,
    pub folder: String,
    pub public_id: String,
    pub upload_url: String,
}

/// Cloudinary's answer to an upload, the fields KasirGo keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    /// As Cloudinary stored it: includes the folder.
    pub public_id: String,
    pub secure_url: String,
    pub version: u64,
    pub format: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorMessage,
}

#[derive(Deserialize)]
struct ErrorMessage {
    message: String,
}

#[derive(Deserialize)]
struct DestroyBody {
    result: String,
}

#[derive(Clone)]
pub struct Cloudinary {
    config: CloudinaryConfig,
    api_base: Url,
    http: reqwest::Client,
}

/// Hand-written so the secret never reaches a log line through `{:?}`.
impl fmt::Debug for Cloudinary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cloudinary")
            .field("cloud_name", &self.config.cloud_name)
            .field("api_key", &self.config.api_key)
            .field("api_base", &self.api_base.as_str())
            .finish_non_exhaustive()
    }
}

impl Cloudinary {
    /// Short timeouts: a serverless function waiting on a stuck Cloudinary
    /// would burn its whole execution budget, and a product change must not
    /// hang on an image clean-up.
    pub fn new(config: CloudinaryConfig, api_base: Url) -> Cloudinary {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            // Only fails when the TLS backend cannot initialise, which no
            // request could recover from either.
            .expect("TLS backend for the Cloudinary client");
        Cloudinary {
            config,
            api_base,
            http,
        }
    }

    pub fn cloud_name(&self) -> &str {
        &self.config.cloud_name
    }

    /// The delivery URL of one of this account's images.
    pub fn delivery_url(&self, public_id: &str) -> String {
        delivery_url(&self.config.cloud_name, public_id)
    }

    fn endpoint(&self, action: &str) -> String {
        // Joined by hand rather than with `Url::join` so a base with a path
        // prefix (a proxy) keeps it whether or not it ends in `/`.
        format!(
            "{}/v1_1/{}/image/{action}",
            self.api_base.as_str().trim_end_matches('/'),
            encode_path(&self.config.cloud_name)
        )
    }

    pub fn direct_upload_params(
        &self,
        folder: &str,
        public_id: &str,
        timestamp: i64,
    ) -> SignedUpload {
        let signature = sign(
            &[
                ("folder", folder.to_string()),
                ("public_id", public_id.to_string()),
                ("timestamp", timestamp.to_string()),
            ],
            &self.config.api_secret,
        );
        SignedUpload {
            cloud_name: self.config.cloud_name.clone(),
            api_key: self.config.api_key.clone(),
            timestamp,
            signature,
            folder: folder.to_string(),
            public_id: public_id.to_string(),
            upload_url: self.endpoint("upload"),
        }
    }

    /// Uploads an image the server received (small photos from the app's
    /// multipart form). An empty `folder` or `public_id` is left out, letting
    /// Cloudinary choose; the stored public id is in the answer either way.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        filename: &str,
        content_type: &str,
        folder: &str,
        public_id: &str,
    ) -> Result<Uploaded, CloudinaryError> {
        let mut params = vec![
            ("folder", folder.to_string()),
            ("public_id", public_id.to_string()),
            ("timestamp", now().to_string()),
        ];
        params.retain(|(_, v)| !v.is_empty());
        let signature = sign(&params, &self.config.api_secret);

        let file = Part::bytes(bytes)
            .file_name(filename.to_string())
            .mime_str(content_type)?;
        let mut form = Form::new()
            .part("file", file)
            .text("api_key", self.config.api_key.clone())
            .text("signature", signature);
        for (k, v) in params {
            form = form.text(k, v);
        }
        let response = self
            .http
            .post(self.endpoint("upload"))
            .multipart(form)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(self.rejected(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| CloudinaryError::Unexpected(format!("upload answer: {e}")))
    }

    /// Deletes an image. Idempotent: an id Cloudinary no longer has counts as
    /// deleted, so a retried clean-up never fails.
    pub async fn destroy(&self, public_id: &str) -> Result<(), CloudinaryError> {
        let params = [
            ("public_id", public_id.to_string()),
            ("timestamp", now().to_string()),
        ];
        let signature = sign(&params, &self.config.api_secret);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .append_pair("api_key", &self.config.api_key)
            .append_pair("signature", &signature)
            .finish();
        // reqwest's `form` feature is off; the body is encoded above instead.
        let response = self
            .http
            .post(self.endpoint("destroy"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(self.rejected(status, &body));
        }
        let answer: DestroyBody = serde_json::from_slice(&body)
            .map_err(|e| CloudinaryError::Unexpected(format!("destroy answer: {e}")))?;
        match answer.result.as_str() {
            "ok" | "not found" => Ok(()),
            other => Err(CloudinaryError::Unexpected(format!(
                "destroy of {public_id:?} answered result {other:?}"
            ))),
        }
    }

    fn rejected(&self, status: reqwest::StatusCode, body: &[u8]) -> CloudinaryError {
        let message = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => parsed.error.message,
            // A proxy or load balancer page rather than Cloudinary's JSON.
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.chars().take(200).collect();
                if text.trim().is_empty() {
                    status
                        .canonical_reason()
                        .unwrap_or("no message")
                        .to_string()
                } else {
                    text
                }
            }
        };
        // Cloudinary echoes the string it signed, which excludes the secret;
        // redacting anyway keeps a misbehaving peer from leaking it into logs.
        let message = if self.config.api_secret.is_empty() {
            message
        } else {
            message.replace(&self.config.api_secret, "[redacted]")
        };
        CloudinaryError::Rejected {
            status: status.as_u16(),
            message,
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_documented_example() {
        // Cloudinary, "Generating authentication signatures": secret `abcd`,
        // api_key 1234 (not signed), public_id sample_image, eager transforms.
        let params = [
            ("timestamp", "1315060510".to_string()),
            ("public_id", "sample_image".to_string()),
            ("eager", "w_400,h_300,c_pad|w_260,h_200,c_crop".to_string()),
            ("api_key", "1234".to_string()),
            ("file", "https://www.example.com/sample.jpg".to_string()),
        ];
        assert_eq!(
            sign(&params, "abcd"),
            "bfd09f95f331f558cbd1320e67aa8d488770583e"
        );
    }

    #[test]
    fn signing_skips_empty_and_unsigned_params() {
        let base = [("timestamp", "1".to_string()), ("folder", "x".to_string())];
        let noisy = [
            ("timestamp", "1".to_string()),
            ("folder", "x".to_string()),
            ("cloud_name", "c".to_string()),
            ("resource_type", "image".to_string()),
            ("signature", "old".to_string()),
            ("tags", String::new()),
        ];
        assert_eq!(sign(&base, "s"), sign(&noisy, "s"));
        assert_ne!(sign(&base, "s"), sign(&base, "t"));
    }

    #[test]
    fn delivery_url_keeps_folders_and_encodes_the_rest() {
        assert_eq!(
            delivery_url("demo", "kasirgo/products/kopi susu#1"),
            "https://res.cloudinary.com/demo/image/upload/f_auto,q_auto/kasirgo/products/kopi%20susu%231"
        );
    }

    #[test]
    fn sniffs_heif_family() {
        let ftyp = |major: &[u8], compatible: &[u8]| {
            let mut b = Vec::new();
            b.extend_from_slice(&((16 + compatible.len()) as u32).to_be_bytes());
            b.extend_from_slice(b"ftyp");
            b.extend_from_slice(major);
            b.extend_from_slice(&[0, 0, 0, 0]);
            b.extend_from_slice(compatible);
            b
        };
        assert_eq!(sniff_image(&ftyp(b"heic", b"mif1heic")), Some("image/heic"));
        assert_eq!(sniff_image(&ftyp(b"avif", b"mif1avif")), Some("image/avif"));
        assert_eq!(
            sniff_image(&ftyp(b"mif1", b"mif1miafavif")),
            Some("image/avif")
        );
        assert_eq!(sniff_image(&ftyp(b"mif1", b"mif1heic")), Some("image/heic"));
        // An MP4 video is ISO-BMFF too, but not an image.
        assert_eq!(sniff_image(&ftyp(b"isom", b"isomiso2mp41")), None);
        assert_eq!(sniff_image(b"GIF89a\x01\x00\x01\x00"), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(sniff_image(b""), None);
    }
}
