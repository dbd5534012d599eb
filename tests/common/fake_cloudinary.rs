//! A local stand-in for Cloudinary's upload API, checking what the real one
//! checks (API key, timestamp within an hour, signature, required fields, a
//! non-empty image) and answering in its JSON shapes, so the client and the
//! handlers are tested against a server that can say no.
//!
//! The signature check is written here from Cloudinary's documented rules and
//! deliberately does not call `kasirgo::cloudinary::sign`: sharing the signer
//! would make a bug in it invisible.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use url::Url;

pub const CLOUD_NAME: &str = "kasirgo-test";
pub const API_KEY: &str = "614335564976464";
pub const API_SECRET: &str = "fake-Cloudinary-secret_0123456789";

/// Cloudinary's own limit on a signed request's age.
const MAX_SKEW_SECONDS: i64 = 3600;

/// One accepted upload.
#[derive(Clone, Debug)]
pub struct RecordedUpload {
    /// As answered: `folder/public_id`, like Cloudinary's fixed folders.
    pub public_id: String,
    /// Every text field sent, `signature` and `api_key` included.
    pub fields: BTreeMap<String, String>,
    pub file_name: Option<String>,
    pub file_content_type: Option<String>,
    pub file_len: usize,
}

/// One accepted destroy call.
#[derive(Clone, Debug)]
pub struct RecordedDestroy {
    pub public_id: String,
    /// `"ok"` when the asset existed, `"not found"` otherwise.
    pub result: &'static str,
    pub fields: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    assets: BTreeSet<String>,
    uploads: Vec<RecordedUpload>,
    destroys: Vec<RecordedDestroy>,
    rejections: Vec<String>,
    fail_next: Option<StatusCode>,
    next_version: u64,
}

#[derive(Clone)]
struct Shared {
    cloud_name: String,
    api_key: String,
    api_secret: String,
    inner: Arc<Mutex<Inner>>,
}

pub struct FakeCloudinary {
    /// What `CLOUDINARY_API_BASE` should be set to.
    pub base_url: Url,
    /// What `CLOUDINARY_URL` should be set to.
    pub cloudinary_url: String,
    pub cloud_name: String,
    pub api_key: String,
    pub api_secret: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloudinary {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCloudinary {
    /// Serves on 127.0.0.1 on a free port, in the calling test's runtime.
    pub async fn start() -> FakeCloudinary {
        let shared = Shared {
            cloud_name: CLOUD_NAME.to_string(),
            api_key: API_KEY.to_string(),
            api_secret: API_SECRET.to_string(),
            inner: Arc::new(Mutex::new(Inner {
                next_version: 1_700_000_000,
                ..Inner::default()
            })),
        };
        let app = Router::new()
            .route("/v1_1/{cloud}/image/upload", post(upload))
            .route("/v1_1/{cloud}/image/destroy", post(destroy))
            .fallback(|| async {
                cloudinary_error(StatusCode::NOT_FOUND, "Resource not found".into())
            })
            // Cloudinary takes images far larger than axum's 2 MB default.
            .layer(DefaultBodyLimit::max(20 * 1024 * 1024))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Cloudinary");
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Cloudinary");
        });
        FakeCloudinary {
            base_url: Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
            cloudinary_url: format!("cloudinary://{API_KEY}:{API_SECRET}@{CLOUD_NAME}"),
            cloud_name: CLOUD_NAME.to_string(),
            api_key: API_KEY.to_string(),
            api_secret: API_SECRET.to_string(),
            shared,
            server,
        }
    }

    /// The configuration the app would parse from `cloudinary_url`.
    pub fn config(&self) -> kasirgo::config::CloudinaryConfig {
        kasirgo::config::CloudinaryConfig {
            cloud_name: self.cloud_name.clone(),
            api_key: self.api_key.clone(),
            api_secret: self.api_secret.clone(),
        }
    }

    pub fn uploads(&self) -> Vec<RecordedUpload> {
        self.inner().uploads.clone()
    }

    /// Public ids of accepted destroy calls, in order, found or not.
    pub fn destroyed(&self) -> Vec<String> {
        self.inner()
            .destroys
            .iter()
            .map(|d| d.public_id.clone())
            .collect()
    }

    pub fn destroy_calls(&self) -> Vec<RecordedDestroy> {
        self.inner().destroys.clone()
    }

    /// Public ids currently stored (uploaded or added, not destroyed).
    pub fn assets(&self) -> BTreeSet<String> {
        self.inner().assets.clone()
    }

    /// Pretends an asset exists, as after a direct upload from the app.
    pub fn add_asset(&self, public_id: &str) {
        self.inner().assets.insert(public_id.to_string());
    }

    /// Messages of the requests refused, for asserting why.
    pub fn rejections(&self) -> Vec<String> {
        self.inner().rejections.clone()
    }

    /// The next request, whatever it is, is answered with `status` and a
    /// Cloudinary-shaped error, and changes nothing.
    pub fn fail_next(&self, status: u16) {
        self.inner().fail_next = Some(StatusCode::from_u16(status).expect("an HTTP status"));
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }
}

fn cloudinary_error(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "message": message } })),
    )
        .into_response()
}

struct Refusal(StatusCode, String);

impl Shared {
    fn refuse(&self, Refusal(status, message): Refusal) -> Response {
        self.inner.lock().unwrap().rejections.push(message.clone());
        cloudinary_error(status, message)
    }

    fn injected_failure(&self) -> Option<Response> {
        let status = self.inner.lock().unwrap().fail_next.take()?;
        Some(cloudinary_error(
            status,
            format!("Injected failure (HTTP {})", status.as_u16()),
        ))
    }

    /// The checks Cloudinary makes on every signed call, in its order.
    fn authenticate(&self, cloud: &str, fields: &BTreeMap<String, String>) -> Result<(), Refusal> {
        if cloud != self.cloud_name {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                format!("Invalid cloud_name {cloud}"),
            ));
        }
        let field = |name: &str| fields.get(name).filter(|v| !v.is_empty());
        let api_key = field("api_key").ok_or_else(|| missing("api_key"))?;
        if *api_key != self.api_key {
            return Err(Refusal(
                StatusCode::UNAUTHORIZED,
                format!("Invalid api_key {api_key}"),
            ));
        }
        let timestamp = field("timestamp").ok_or_else(|| missing("timestamp"))?;
        let timestamp: i64 = timestamp.parse().map_err(|_| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!("Invalid timestamp {timestamp}"),
            )
        })?;
        let now = chrono::Utc::now().timestamp();
        if (now - timestamp).abs() > MAX_SKEW_SECONDS {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                format!(
                    "Stale request - reported time is {timestamp} which is more than 1 hour from now {now}"
                ),
            ));
        }
        let signature = field("signature").ok_or_else(|| missing("signature"))?;
        let (expected, string_to_sign) = self.expected_signature(fields);
        if !signature.eq_ignore_ascii_case(&expected) {
            // Cloudinary's wording; the string it shows omits the secret.
            return Err(Refusal(
                StatusCode::UNAUTHORIZED,
                format!("Invalid Signature {signature}. String to sign - '{string_to_sign}'."),
            ));
        }
        Ok(())
    }

    fn expected_signature(&self, fields: &BTreeMap<String, String>) -> (String, String) {
        // A BTreeMap iterates in key order, which is the documented sort.
        let mut string_to_sign = String::new();
        for (name, value) in fields {
            let excluded = matches!(
                name.as_str(),
                "file" | "cloud_name" | "resource_type" | "api_key" | "signature"
            );
            if excluded || value.is_empty() {
                continue;
            }
            if !string_to_sign.is_empty() {
                string_to_sign.push('&');
            }
            string_to_sign.push_str(name);
            string_to_sign.push('=');
            string_to_sign.push_str(value);
        }
        let digest = Sha1::digest(format!("{string_to_sign}{}", self.api_secret).as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        (hex, string_to_sign)
    }
}

fn missing(name: &str) -> Refusal {
    Refusal(
        StatusCode::BAD_REQUEST,
        format!("Missing required parameter - {name}"),
    )
}

async fn upload(
    State(shared): State<Shared>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = shared.injected_failure() {
        return failure;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = match parse_multipart(content_type, &body) {
        Ok(parts) => parts,
        Err(message) => return shared.refuse(Refusal(StatusCode::BAD_REQUEST, message)),
    };
    let mut fields = BTreeMap::new();
    let mut file: Option<FormPart> = None;
    for part in parts {
        if part.name == "file" {
            file = Some(part);
        } else {
            fields.insert(part.name, String::from_utf8_lossy(&part.data).into_owned());
        }
    }
    if let Err(refusal) = shared.authenticate(&cloud, &fields) {
        return shared.refuse(refusal);
    }
    let file = match file {
        None => return shared.refuse(missing("file")),
        Some(f) if f.data.is_empty() => {
            return shared.refuse(Refusal(StatusCode::BAD_REQUEST, "Empty file".into()));
        }
        Some(f) => f,
    };
    let Some((format, width, height)) = inspect_image(&file.data) else {
        return shared.refuse(Refusal(
            StatusCode::BAD_REQUEST,
            "Invalid image file".into(),
        ));
    };

    let mut inner = shared.inner.lock().unwrap();
    inner.next_version += 1;
    let version = inner.next_version;
    let base_id = fields
        .get("public_id")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| format!("{:x}", version * 7919));
    let public_id = match fields.get("folder").filter(|v| !v.is_empty()) {
        Some(folder) => format!("{}/{base_id}", folder.trim_end_matches('/')),
        None => base_id,
    };
    inner.assets.insert(public_id.clone());
    inner.uploads.push(RecordedUpload {
        public_id: public_id.clone(),
        fields: fields.clone(),
        file_name: file.file_name.clone(),
        file_content_type: file.content_type.clone(),
        file_len: file.data.len(),
    });
    drop(inner);

    let path = format!(
        "{}/image/upload/v{version}/{public_id}.{format}",
        shared.cloud_name
    );
    let answer: Value = json!({
        "asset_id": format!("{:032x}", version),
        "public_id": public_id,
        "version": version,
        "version_id": format!("{:032x}", version * 31),
        "signature": format!("{:040x}", version),
        "width": width,
        "height": height,
        "format": format,
        "resource_type": "image",
        "created_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "tags": [],
        "bytes": file.data.len(),
        "type": "upload",
        "etag": format!("{:032x}", file.data.len()),
        "placeholder": false,
        "url": format!("http://res.cloudinary.com/{path}"),
        "secure_url": format!("https://res.cloudinary.com/{path}"),
        "folder": fields.get("folder").cloned().unwrap_or_default(),
        "original_filename": file
            .file_name
            .as_deref()
            .map(|n| n.rsplit_once('.').map_or(n, |(stem, _)| stem))
            .unwrap_or("file"),
        "api_key": shared.api_key,
    });
    (StatusCode::OK, axum::Json(answer)).into_response()
}

async fn destroy(
    State(shared): State<Shared>,
    Path(cloud): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = shared.injected_failure() {
        return failure;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let fields: BTreeMap<String, String> = if content_type.starts_with("multipart/form-data") {
        match parse_multipart(content_type, &body) {
            Ok(parts) => parts
                .into_iter()
                .map(|p| (p.name, String::from_utf8_lossy(&p.data).into_owned()))
                .collect(),
            Err(message) => return shared.refuse(Refusal(StatusCode::BAD_REQUEST, message)),
        }
    } else {
        url::form_urlencoded::parse(&body).into_owned().collect()
    };
    if let Err(refusal) = shared.authenticate(&cloud, &fields) {
        return shared.refuse(refusal);
    }
    let Some(public_id) = fields.get("public_id").filter(|v| !v.is_empty()).cloned() else {
        return shared.refuse(missing("public_id"));
    };
    let mut inner = shared.inner.lock().unwrap();
    let result = if inner.assets.remove(&public_id) {
        "ok"
    } else {
        "not found"
    };
    inner.destroys.push(RecordedDestroy {
        public_id,
        result,
        fields,
    });
    (StatusCode::OK, axum::Json(json!({ "result": result }))).into_response()
}

struct FormPart {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// A plain multipart/form-data reader (RFC 7578), enough for what HTTP
/// clients send; written here so the fake depends on nothing the client uses.
fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<FormPart>, String> {
    let (mime, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!("Unsupported content type {content_type:?}"));
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"').to_string())
        .ok_or("Multipart body without a boundary")?;
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");

    let start = find(body, delimiter.as_bytes()).ok_or("Multipart body without parts")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("Malformed multipart delimiter")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("Multipart part without headers")?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| "Non-UTF-8 part headers")?;
        let content = &rest[head_end + 4..];
        let end = find(content, next_delimiter.as_bytes()).ok_or("Unterminated multipart body")?;
        parts.push(parse_part(head, content[..end].to_vec())?);
        rest = &content[end + next_delimiter.len()..];
    }
}

fn parse_part(head: &str, data: Vec<u8>) -> Result<FormPart, String> {
    let mut name = None;
    let mut file_name = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((header, value)) = line.split_once(':') else {
            continue;
        };
        if header.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        } else if header.trim().eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                if let Some((k, v)) = param.trim().split_once('=') {
                    let v = v.trim().trim_matches('"').to_string();
                    match k.trim() {
                        "name" => name = Some(v),
                        "filename" => file_name = Some(v),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(FormPart {
        name: name.ok_or("Multipart part without a name")?,
        file_name,
        content_type,
        data,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Format and dimensions, as Cloudinary reports them; `None` for what it
/// would refuse as "Invalid image file". Recognises formats by their own
/// magic bytes rather than through `kasirgo::cloudinary::sniff_image`.
fn inspect_image(data: &[u8]) -> Option<(&'static str, u32, u32)> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let be16 = |b: &[u8]| u32::from(u16::from_be_bytes([b[0], b[1]]));
    let le16 = |b: &[u8]| u32::from(u16::from_le_bytes([b[0], b[1]]));
    if data.len() >= 24 && data[..8] == *b"\x89PNG\r\n\x1a\n" && data[12..16] == *b"IHDR" {
        return Some(("png", be32(&data[16..20]), be32(&data[20..24])));
    }
    if data.len() >= 10 && (data[..6] == *b"GIF87a" || data[..6] == *b"GIF89a") {
        return Some(("gif", le16(&data[6..8]), le16(&data[8..10])));
    }
    if data.len() >= 3 && data[..3] == [0xFF, 0xD8, 0xFF] {
        // Walk the segments to the first start-of-frame, which holds the size.
        let mut i = 2;
        while i + 9 < data.len() && data[i] == 0xFF {
            let marker = data[i + 1];
            let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
            if is_sof {
                return Some(("jpg", be16(&data[i + 7..i + 9]), be16(&data[i + 5..i + 7])));
            }
            i += 2 + be16(&data[i + 2..i + 4]) as usize;
        }
        return Some(("jpg", 1, 1));
    }
    if data.len() >= 12 && data[..4] == *b"RIFF" && data[8..12] == *b"WEBP" {
        return Some(("webp", 1, 1));
    }
    if data.len() >= 12 && data[4..8] == *b"ftyp" {
        return match &data[8..12] {
            b"avif" | b"avis" => Some(("avif", 1, 1)),
            b"heic" | b"heix" | b"mif1" | b"msf1" => Some(("heic", 1, 1)),
            _ => None,
        };
    }
    None
}

/// A real 3x2 RGB PNG, so the fake can report its dimensions.
pub const PNG_3X2: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xf1,
    0x4d, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x41, 0x0c, 0x70, 0x16, 0x00, 0x41, 0xd2, 0x05, 0xfb, 0x87, 0xf0, 0xb9, 0x48, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
