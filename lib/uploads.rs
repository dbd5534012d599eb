//! Product photos on Cloudinary. `POST /api/uploads/sign` hands the app what
//! it needs to upload straight to Cloudinary (Vercel caps request bodies at
//! 4.5 MB, so big photos cannot pass through us); `POST /api/uploads`
//! takes a multipart image of up to 4 MB and uploads it server-side.
//! Either way the app then sets the product's `image_public_id`.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Auth, ManagerUp};
use crate::cloudinary::{Cloudinary, SignedUpload, sniff_image};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{Json, read_body};
use crate::state::AppState;

/// The largest image accepted through the API.
pub const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
/// Room for the multipart framing around the image.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;
pub const FOLDER: &str = "kasirgo/products";

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedImage {
    /// Set this as the product's `image_public_id`.
    #[schema(example = "kasirgo/products/0f8fad5b-d9cb-469f-a165-70867728950e")]
    pub public_id: String,
    /// Delivery URL with automatic format and quality.
    pub url: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(sign))
}

fn client(state: &AppState) -> ApiResult<&Cloudinary> {
    state.cloudinary().ok_or_else(|| {
        ApiError::ServiceUnavailable(
            "Image uploads are not configured on this server (CLOUDINARY_URL).".into(),
        )
    })
}

/// Parameters for a signed direct upload to Cloudinary (manager+).
///
/// Post `file`, `api_key`, `timestamp`, `folder`, `public_id` and
/// `signature` (and nothing else) to `upload_url` within the hour, then set
/// the product's `image_public_id` to the `public_id` Cloudinary answers.
#[utoipa::path(post, path = "/api/uploads/sign", tag = "uploads",
    responses((status = 200, body = SignedUpload), (status = 403, body = ErrorBody),
              (status = 503, description = "Cloudinary is not configured", body = ErrorBody)))]
async fn sign(_: Auth<ManagerUp>, State(state): State<AppState>) -> ApiResult<Json<SignedUpload>> {
    let cloudinary = client(&state)?;
    let public_id = uuid::Uuid::new_v4().to_string();
    Ok(Json(cloudinary.direct_upload_params(
        FOLDER,
        &public_id,
        chrono::Utc::now().timestamp(),
    )))
}

/// The upload form, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The image: JPEG, PNG, GIF, WebP, HEIC or AVIF, at most 4 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload an image (manager+): multipart field `file`, at most 4 MB,
/// JPEG, PNG, GIF, WebP, HEIC or AVIF.
#[utoipa::path(post, path = "/api/uploads", tag = "uploads",
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "Field `file`: the image"),
    responses((status = 201, body = UploadedImage), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn upload(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    req: Request,
) -> ApiResult<(StatusCode, Json<UploadedImage>)> {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(
                "Send the image as multipart/form-data in the field `file`.".into(),
            )
        })?;
    let body = read_body(req, MAX_IMAGE_BYTES + MULTIPART_OVERHEAD).await?;
    let (bytes, filename) = file_field(body, &boundary).await?;
    let uploaded = store_image(&state, bytes, &filename).await?;
    let cloudinary = client(&state)?;
    Ok((
        StatusCode::CREATED,
        Json(UploadedImage {
            url: cloudinary.delivery_url(&uploaded.public_id),
            public_id: uploaded.public_id,
            width: uploaded.width,
            height: uploaded.height,
            bytes: uploaded.bytes,
        }),
    ))
}

/// Uploads a product photo to Cloudinary under a new public id, judged by
/// its bytes (whatever its file name or part type say).
pub async fn store_image(
    state: &AppState,
    bytes: Vec<u8>,
    filename: &str,
) -> ApiResult<crate::cloudinary::Uploaded> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_IMAGE_BYTES,
        });
    }
    let content_type = sniff_image(&bytes).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "The file is not an image (JPEG, PNG, GIF, WebP, HEIC or AVIF).".into(),
        )
    })?;
    let cloudinary = client(state)?;
    let public_id = uuid::Uuid::new_v4().to_string();
    Ok(cloudinary
        .upload(bytes, filename, content_type, FOLDER, &public_id)
        .await?)
}

/// The bytes and file name of the multipart field `file`.
async fn file_field(body: bytes::Bytes, boundary: &str) -> ApiResult<(Vec<u8>, String)> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let bad = |e: multer::Error| ApiError::field("file", format!("Malformed multipart body: {e}"));
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        if field.name() == Some("file") {
            let filename = field.file_name().unwrap_or("image").to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            if bytes.is_empty() {
                return Err(ApiError::field("file", "The file is empty."));
            }
            return Ok((bytes.to_vec(), filename));
        }
    }
    Err(ApiError::field("file", "This field is required."))
}
