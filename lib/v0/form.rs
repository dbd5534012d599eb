//! The app's multipart product form: every field a text part, and an
//! optional file part `image` (its part type is the picker's guess from
//! the file name, so the image is judged by its bytes, in
//! `uploads::store_image`).

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::header;

use crate::error::{ApiError, ApiResult};
use crate::http::read_body;
use crate::uploads::{MAX_IMAGE_BYTES, MULTIPART_OVERHEAD};

/// A submitted form: text fields by name (the last of a repeated name
/// wins), and the image if one was attached.
#[derive(Debug, Default)]
pub struct Form {
    pub fields: HashMap<String, String>,
    pub image: Option<(Vec<u8>, String)>,
}

/// The most text fields a form may carry.
const MAX_FIELDS: usize = 50;
/// The longest text field.
const MAX_FIELD_BYTES: usize = 8 * 1024;

pub async fn read(req: Request) -> ApiResult<Form> {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(
                "Send the product as multipart/form-data, as the app does.".into(),
            )
        })?;
    let body = read_body(req, MAX_IMAGE_BYTES + MULTIPART_OVERHEAD).await?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let bad = |e: multer::Error| ApiError::InvalidJson(format!("Malformed multipart body: {e}"));
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" {
            let filename = field.file_name().unwrap_or("image").to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() {
                form.image = Some((bytes.to_vec(), filename));
            }
            continue;
        }
        let bytes = field.bytes().await.map_err(bad)?;
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(ApiError::field(name, "This field is too long."));
        }
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::field(name.clone(), "Must be UTF-8 text."))?;
        form.fields.insert(name, text);
        if form.fields.len() > MAX_FIELDS {
            return Err(ApiError::InvalidJson("Too many form fields.".into()));
        }
    }
    Ok(form)
}

impl Form {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// `"true"` / `"false"` (also `1`/`0`, `yes`/`no`, any case).
    pub fn flag(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.text(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(ApiError::field(name, "Must be true or false.")),
            },
        }
    }

    /// A whole number; the app writes `"12"` (a `"12.0"` is taken too).
    pub fn whole(&self, name: &str) -> ApiResult<Option<i32>> {
        let Some(v) = self.text(name).map(str::trim) else {
            return Ok(None);
        };
        let v = v.strip_suffix(".0").unwrap_or(v);
        v.parse::<i32>()
            .map(Some)
            .map_err(|_| ApiError::field(name, "Must be a whole number."))
    }
}
