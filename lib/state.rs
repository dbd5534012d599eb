//! What every handler can reach: configuration, the pool, and the
//! Cloudinary client.

use std::sync::{Arc, OnceLock};

use sqlx::PgPool;

use crate::cloudinary::Cloudinary;
use crate::config::Config;
use crate::payments::duitku::Duitku;
use crate::payments::provider::Provider;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    /// Built on first use: its TLS set-up would otherwise cost every cold
    /// start, and most requests never talk to Cloudinary.
    cloudinary: Arc<OnceLock<Option<Cloudinary>>>,
    /// The payment provider, built on first use like Cloudinary's client.
    provider: Arc<OnceLock<Option<Arc<dyn Provider>>>>,
}

impl AppState {
    /// State for one process: the pool is lazy, so building it costs no
    /// connection.
    pub fn new(config: Config) -> Result<AppState, sqlx::Error> {
        let db = crate::db::lazy_pool(&config)?;
        Ok(AppState {
            config: Arc::new(config),
            db,
            cloudinary: Arc::new(OnceLock::new()),
            provider: Arc::new(OnceLock::new()),
        })
    }

    /// The Cloudinary client, or `None` when `CLOUDINARY_URL` is not set.
    pub fn cloudinary(&self) -> Option<&Cloudinary> {
        self.cloudinary
            .get_or_init(|| {
                self.config
                    .cloudinary
                    .clone()
                    .map(|c| Cloudinary::new(c, self.config.cloudinary_api_base.clone()))
            })
            .as_ref()
    }

    /// The payment provider, or `None` when none is configured.
    pub fn payment_provider(&self) -> Option<&dyn Provider> {
        self.provider
            .get_or_init(|| {
                self.config
                    .duitku
                    .clone()
                    .map(|c| Arc::new(Duitku::new(c)) as Arc<dyn Provider>)
            })
            .as_deref()
    }

    pub fn cloud_name(&self) -> Option<&str> {
        self.config
            .cloudinary
            .as_ref()
            .map(|c| c.cloud_name.as_str())
    }

    /// Destroys an image that nothing refers to any more. A failure never
    /// undoes the change that orphaned it; it is logged for clean-up.
    ///
    /// Only our own uploads (under `kasirgo/products/`) that no live
    /// product still shows are destroyed: `image_public_id` is whatever a
    /// manager sent, so without these checks replacing or deleting a
    /// product could destroy any asset of the Cloudinary account, or the
    /// image another product shares.
    pub async fn destroy_image(&self, public_id: &str) {
        let ours = public_id
            .strip_prefix(crate::uploads::FOLDER)
            .is_some_and(|rest| rest.starts_with('/'));
        if !ours {
            tracing::warn!(%public_id, "not one of our uploads; left in place");
            return;
        }
        let shown = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM products
                              WHERE image_public_id = $1 AND deleted_at IS NULL) AS "shown!""#,
            public_id
        )
        .fetch_one(&self.db)
        .await;
        match shown {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(%public_id, "another product shows this image; left in place");
                return;
            }
            Err(error) => {
                tracing::error!(%public_id, %error, "could not check an image's use; left in place");
                return;
            }
        }
        let Some(cloudinary) = self.cloudinary() else {
            tracing::warn!(%public_id, "CLOUDINARY_URL is not set; orphaned image left in place");
            return;
        };
        if let Err(error) = cloudinary.destroy(public_id).await {
            tracing::error!(%public_id, %error, "could not destroy an orphaned Cloudinary image");
        }
    }
}
