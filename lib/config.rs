//! Configuration comes from the environment only, read and validated once at
//! start, with messages that name the variable at fault.

use std::time::Duration;

use url::Url;

pub const DEFAULT_CLOUDINARY_API_BASE: &str = "https://api.cloudinary.com";
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// A longer grace would make a stolen, already-used refresh token worth
/// having for longer; an hour is far past any client's retry.
pub const MAX_REFRESH_GRACE_SECONDS: u32 = 3600;

/// `Debug` redacts the secrets, so logging a `Config` leaks nothing.
#[derive(Clone)]
pub struct Config {
    /// Run-time URL (Neon's pooled URL in production).
    pub database_url: String,
    /// Migration URL (Neon's direct URL); falls back to `database_url`.
    pub database_url_unpooled: Option<String>,
    pub jwt_secret: Vec<u8>,
    pub cloudinary: Option<CloudinaryConfig>,
    pub cloudinary_api_base: Url,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a rotated-out refresh token still answers with the pair its
    /// rotation issued (zero: never; it is refused at once).
    pub refresh_grace: Duration,
    /// Failed logins per username within 15 minutes before 429.
    pub login_throttle: u32,
    /// Connections per process; small, as every warm function holds its own.
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    /// Duitku, when configured (`DUITKU_*`); else no payment provider.
    pub duitku: Option<crate::payments::duitku::DuitkuConfig>,
    /// What Vercel Cron sends as `Authorization: Bearer <CRON_SECRET>`;
    /// without it the cron endpoint refuses every call.
    pub cron_secret: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct CloudinaryConfig {
    pub cloud_name: String,
    pub api_key: String,
    pub api_secret: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "database_url_unpooled",
                &self.database_url_unpooled.as_deref().map(redact_url),
            )
            .field("jwt_secret", &"<redacted>")
            .field("cloudinary", &self.cloudinary)
            .field("cloudinary_api_base", &self.cloudinary_api_base.as_str())
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("refresh_grace", &self.refresh_grace)
            .field("login_throttle", &self.login_throttle)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout", &self.db_acquire_timeout)
            .field("duitku", &self.duitku)
            .field(
                "cron_secret",
                &self.cron_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl std::fmt::Debug for CloudinaryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudinaryConfig")
            .field("cloud_name", &self.cloud_name)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

/// A database URL without its password.
fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.into()
        }
        Ok(url) => url.into(),
        Err(_) => "<unparseable>".into(),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let database_url = lookup("DATABASE_URL").ok_or_else(|| {
            err(
                "DATABASE_URL",
                "is not set (a postgres:// URL; Neon's pooled URL in production)",
            )
        })?;
        check_postgres_url("DATABASE_URL", &database_url)?;
        let database_url_unpooled = lookup("DATABASE_URL_UNPOOLED");
        if let Some(url) = &database_url_unpooled {
            check_postgres_url("DATABASE_URL_UNPOOLED", url)?;
        }

        let jwt_secret = lookup("JWT_SECRET")
            .ok_or_else(|| err("JWT_SECRET", "is not set (at least 32 random bytes)"))?
            .into_bytes();
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(err(
                "JWT_SECRET",
                format!(
                    "is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES}",
                    jwt_secret.len()
                ),
            ));
        }

        let cloudinary = lookup("CLOUDINARY_URL")
            .map(|raw| parse_cloudinary_url(&raw))
            .transpose()?;
        let cloudinary_api_base = {
            let raw = lookup("CLOUDINARY_API_BASE")
                .unwrap_or_else(|| DEFAULT_CLOUDINARY_API_BASE.to_string());
            let url = Url::parse(&raw)
                .map_err(|e| err("CLOUDINARY_API_BASE", format!("is not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(err("CLOUDINARY_API_BASE", "must be an http(s) URL"));
            }
            url
        };

        Ok(Config {
            database_url,
            database_url_unpooled,
            jwt_secret,
            cloudinary,
            cloudinary_api_base,
            access_token_ttl: seconds(&lookup, "ACCESS_TOKEN_TTL", 15 * 60)?,
            refresh_token_ttl: seconds(&lookup, "REFRESH_TOKEN_TTL", 7 * 24 * 3600)?,
            refresh_grace: Duration::from_secs(
                number(
                    &lookup,
                    "REFRESH_GRACE_SECONDS",
                    60,
                    0..=MAX_REFRESH_GRACE_SECONDS,
                )?
                .into(),
            ),
            login_throttle: number(&lookup, "LOGIN_THROTTLE", 5, 1..=1000)?,
            db_max_connections: number(&lookup, "DB_MAX_CONNECTIONS", 5, 1..=100)?,
            db_acquire_timeout: Duration::from_millis(u64::from(number(
                &lookup,
                "DB_ACQUIRE_TIMEOUT_MS",
                3000,
                100..=60_000,
            )?)),
            duitku: crate::payments::duitku::DuitkuConfig::from_lookup(&lookup)
                .map_err(|problem| err("DUITKU_*", problem))?,
            cron_secret: lookup("CRON_SECRET"),
        })
    }

    /// The URL migrations run on: the unpooled one when there is one, since
    /// sqlx's migrator holds a session advisory lock that PgBouncer's
    /// transaction pooling would not keep.
    pub fn migration_url(&self) -> &str {
        self.database_url_unpooled
            .as_deref()
            .unwrap_or(&self.database_url)
    }
}

fn check_postgres_url(var: &'static str, raw: &str) -> Result<(), ConfigError> {
    let url = Url::parse(raw).map_err(|e| err(var, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(err(var, "must start with postgres:// or postgresql://"));
    }
    Ok(())
}

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(raw) = lookup(var) else {
        return Ok(default);
    };
    let value: u32 = raw
        .trim()
        .parse()
        .map_err(|_| err(var, format!("must be a whole number, got {raw:?}")))?;
    if !range.contains(&value) {
        return Err(err(
            var,
            format!(
                "must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(value)
}

fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
) -> Result<Duration, ConfigError> {
    number(lookup, var, default, 1..=365 * 24 * 3600).map(|s| Duration::from_secs(s.into()))
}

/// `cloudinary://<api_key>:<api_secret>@<cloud_name>`, as Cloudinary's
/// console shows it.
pub fn parse_cloudinary_url(raw: &str) -> Result<CloudinaryConfig, ConfigError> {
    const VAR: &str = "CLOUDINARY_URL";
    let url = Url::parse(raw).map_err(|e| err(VAR, format!("is not a URL ({e})")))?;
    if url.scheme() != "cloudinary" {
        return Err(err(
            VAR,
            "must look like cloudinary://<api_key>:<api_secret>@<cloud_name>",
        ));
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let api_key = decode(url.username());
    let api_secret = decode(url.password().unwrap_or(""));
    let cloud_name = url.host_str().unwrap_or("").to_string();
    if api_key.is_empty() || api_secret.is_empty() || cloud_name.is_empty() {
        return Err(err(
            VAR,
            "must look like cloudinary://<api_key>:<api_secret>@<cloud_name>",
        ));
    }
    Ok(CloudinaryConfig {
        cloud_name,
        api_key,
        api_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn minimal_configuration_gets_defaults() {
        let c = Config::from_lookup(lookup(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("JWT_SECRET", SECRET),
        ]))
        .unwrap();
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(604_800));
        assert_eq!(c.login_throttle, 5);
        assert_eq!(c.refresh_grace, Duration::from_secs(60));
        assert_eq!(c.migration_url(), "postgres://u@h/db");
        assert_eq!(
            c.cloudinary_api_base.as_str(),
            "https://api.cloudinary.com/"
        );
        assert!(c.cloudinary.is_none());
    }

    #[test]
    fn errors_name_the_variable() {
        let e = Config::from_lookup(lookup(&[("JWT_SECRET", SECRET)])).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        let e = Config::from_lookup(lookup(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("JWT_SECRET", "short"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "JWT_SECRET");
        assert!(e.to_string().contains("at least 32"), "{e}");
        let e = Config::from_lookup(lookup(&[
            ("DATABASE_URL", "mysql://u@h/db"),
            ("JWT_SECRET", SECRET),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        let e = Config::from_lookup(lookup(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("JWT_SECRET", SECRET),
            ("LOGIN_THROTTLE", "many"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "LOGIN_THROTTLE");
    }

    #[test]
    fn refresh_grace_takes_zero_and_refuses_nonsense() {
        let with = |v: &str| {
            Config::from_lookup(lookup(&[
                ("DATABASE_URL", "postgres://u@h/db"),
                ("JWT_SECRET", SECRET),
                ("REFRESH_GRACE_SECONDS", v),
            ]))
        };
        assert_eq!(with("0").unwrap().refresh_grace, Duration::ZERO);
        assert_eq!(with(" 5 ").unwrap().refresh_grace, Duration::from_secs(5));
        assert_eq!(
            with("3600").unwrap().refresh_grace,
            Duration::from_secs(3600)
        );
        for bad in ["-1", "3601", "1.5", "soon"] {
            let e = with(bad).unwrap_err();
            assert_eq!(e.var, "REFRESH_GRACE_SECONDS", "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Config::from_lookup(lookup(&[
            ("DATABASE_URL", "postgres://u:dbpass@h/db"),
            ("JWT_SECRET", SECRET),
            ("CLOUDINARY_URL", "cloudinary://123:cloudsecret@demo"),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        for secret in [SECRET, "dbpass", "cloudsecret"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("demo"));
    }

    #[test]
    fn cloudinary_url_parses() {
        let c = parse_cloudinary_url("cloudinary://123456:abc%2Fdef@demo").unwrap();
        assert_eq!(c.api_key, "123456");
        assert_eq!(c.api_secret, "abc/def");
        assert_eq!(c.cloud_name, "demo");
        assert!(parse_cloudinary_url("cloudinary://demo").is_err());
        assert!(parse_cloudinary_url("https://k:s@demo").is_err());
    }
}
