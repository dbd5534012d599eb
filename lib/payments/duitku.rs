//! Duitku's v2 API (docs.duitku.com/api/en), reached with reqwest: create a
//! transaction (`/webapi/api/merchant/v2/inquiry`), check its status
//! (`/webapi/api/merchant/transactionStatus`), and verify the form-encoded
//! callback Duitku POSTs to `callbackUrl`.
//!
//! Signatures are MD5, lowercase hex, over plain concatenations:
//! inquiry `merchantCode + merchantOrderId + paymentAmount + apiKey`,
//! status `merchantCode + merchantOrderId + apiKey`,
//! callback `merchantCode + amount + merchantOrderId + apiKey`.
//!
//! The callback signature does not cover `resultCode` (nor `reference`), so a
//! callback proves who sent it and for which order and amount, not whether it
//! was paid: [`Notice::settlement_verified`] is `false` for it, and the
//! handler confirms a "paid" callback with [`Provider::status`], as Duitku's
//! own WooCommerce and Moodle plugins do.
//!
//! The base URL comes from configuration so tests can point the client at a
//! local fake that checks signatures the way Duitku does.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use md5::{Digest, Md5};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use url::Url;

use super::provider::{
    BoxFuture, Channel, Notice, NoticeError, OpenRequest, Opened, Provider, ProviderError,
    Settlement,
};

pub const SANDBOX_BASE_URL: &str = "https://sandbox.duitku.com";
pub const PRODUCTION_BASE_URL: &str = "https://passport.duitku.com";
/// ShopeePay's QRIS, payable from any QRIS app.
pub const DEFAULT_QRIS_METHOD: &str = "SP";
/// BCA virtual account.
pub const DEFAULT_VA_METHOD: &str = "BC";
/// A serverless function waiting on a stuck gateway burns its whole budget,
/// and the cashier is waiting too.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Duitku's limit on `merchantOrderId`.
pub const MAX_ORDER_ID_CHARS: usize = 50;

const INQUIRY_PATH: &str = "webapi/api/merchant/v2/inquiry";
const STATUS_PATH: &str = "webapi/api/merchant/transactionStatus";

/// Every variable read; none set means Duitku is off.
pub const ENV_VARS: [&str; 8] = [
    "DUITKU_MERCHANT_CODE",
    "DUITKU_API_KEY",
    "DUITKU_BASE_URL",
    "DUITKU_CALLBACK_URL",
    "DUITKU_RETURN_URL",
    "DUITKU_EMAIL",
    "DUITKU_QRIS_METHOD",
    "DUITKU_VA_METHOD",
];
const REQUIRED_VARS: [&str; 4] = [
    "DUITKU_MERCHANT_CODE",
    "DUITKU_API_KEY",
    "DUITKU_CALLBACK_URL",
    "DUITKU_EMAIL",
];

fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// `md5(merchantCode + merchantOrderId + paymentAmount + apiKey)`.
pub fn inquiry_signature(
    merchant_code: &str,
    merchant_order_id: &str,
    payment_amount: i64,
    api_key: &str,
) -> String {
    md5_hex(&[
        merchant_code,
        merchant_order_id,
        &payment_amount.to_string(),
        api_key,
    ])
}

/// `md5(merchantCode + merchantOrderId + apiKey)`.
pub fn status_signature(merchant_code: &str, merchant_order_id: &str, api_key: &str) -> String {
    md5_hex(&[merchant_code, merchant_order_id, api_key])
}

/// `md5(merchantCode + amount + merchantOrderId + apiKey)`, over `amount`
/// exactly as the callback carried it.
pub fn callback_signature(
    merchant_code: &str,
    amount: &str,
    merchant_order_id: &str,
    api_key: &str,
) -> String {
    md5_hex(&[merchant_code, amount, merchant_order_id, api_key])
}

/// Constant-time; Duitku sends lowercase hex, but case carries no meaning.
fn signature_matches(received: &str, expected: &str) -> bool {
    received
        .to_ascii_lowercase()
        .as_bytes()
        .ct_eq(expected.as_bytes())
        .into()
}

/// `Debug` redacts the API key, so logging a config leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct DuitkuConfig {
    pub merchant_code: String,
    pub api_key: String,
    pub base_url: Url,
    pub callback_url: Url,
    pub return_url: Url,
    /// Sent as `email` when the till has no customer e-mail (Duitku
    /// requires one): the shop's address.
    pub email: String,
    pub qris_method: String,
    pub va_method: String,
}

impl fmt::Debug for DuitkuConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuitkuConfig")
            .field("merchant_code", &self.merchant_code)
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url.as_str())
            .field("callback_url", &self.callback_url.as_str())
            .field("return_url", &self.return_url.as_str())
            .field("email", &self.email)
            .field("qris_method", &self.qris_method)
            .field("va_method", &self.va_method)
            .finish()
    }
}

impl DuitkuConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Option<DuitkuConfig>, String> {
        DuitkuConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// `Ok(None)` when no `DUITKU_*` variable is set (payments off); an
    /// error naming the variable when some are set but a required one is
    /// missing or a value is unusable. Empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<DuitkuConfig>, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if ENV_VARS.iter().all(|name| get(name).is_none()) {
            return Ok(None);
        }
        if let Some(missing) = REQUIRED_VARS.iter().find(|name| get(name).is_none()) {
            return Err(format!(
                "{missing} is not set; Duitku needs all of {} (or none, to leave it off)",
                REQUIRED_VARS.join(", ")
            ));
        }
        let required = |name: &str| get(name).unwrap_or_default();

        let merchant_code = required("DUITKU_MERCHANT_CODE");
        if !merchant_code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "DUITKU_MERCHANT_CODE {merchant_code:?} is not a Duitku merchant code (like DS12345)"
            ));
        }
        let api_key = required("DUITKU_API_KEY");
        if api_key.chars().any(char::is_whitespace) {
            return Err("DUITKU_API_KEY contains whitespace".into());
        }
        let base_url = http_url(
            "DUITKU_BASE_URL",
            &get("DUITKU_BASE_URL").unwrap_or_else(|| SANDBOX_BASE_URL.to_string()),
        )?;
        let callback_url = http_url("DUITKU_CALLBACK_URL", &required("DUITKU_CALLBACK_URL"))?;
        let return_url = match get("DUITKU_RETURN_URL") {
            Some(raw) => http_url("DUITKU_RETURN_URL", &raw)?,
            None => Url::parse(&callback_url.origin().ascii_serialization())
                .map_err(|e| format!("DUITKU_CALLBACK_URL has no usable origin: {e}"))?,
        };
        let email = required("DUITKU_EMAIL");
        if !plausible_email(&email) {
            return Err(format!("DUITKU_EMAIL {email:?} is not an e-mail address"));
        }
        let qris_method = method_code(
            "DUITKU_QRIS_METHOD",
            get("DUITKU_QRIS_METHOD"),
            DEFAULT_QRIS_METHOD,
        )?;
        let va_method = method_code(
            "DUITKU_VA_METHOD",
            get("DUITKU_VA_METHOD"),
            DEFAULT_VA_METHOD,
        )?;

        Ok(Some(DuitkuConfig {
            merchant_code,
            api_key,
            base_url,
            callback_url,
            return_url,
            email,
            qris_method,
            va_method,
        }))
    }
}

fn http_url(var: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("{var} {raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{var} {raw:?} is not an http(s) URL"));
    }
    Ok(url)
}

fn plausible_email(raw: &str) -> bool {
    match raw.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !raw.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Duitku's method codes are two letters or digits ("SP", "NQ", "BC", "I1").
fn method_code(var: &str, raw: Option<String>, default: &str) -> Result<String, String> {
    let code = raw
        .unwrap_or_else(|| default.to_string())
        .to_ascii_uppercase();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "{var} {code:?} is not a Duitku payment method code (two characters, like SP or BC)"
        ));
    }
    Ok(code)
}

/// Duitku takes integer rupiah; an amount with cents is refused rather than
/// rounded, so the till never charges other than what it shows.
fn whole_rupiah(amount: Decimal) -> Result<i64, ProviderError> {
    if amount <= Decimal::ZERO {
        return Err(ProviderError::Refused(format!(
            "The amount must be more than zero (got {amount})."
        )));
    }
    if !amount.fract().is_zero() {
        return Err(ProviderError::Refused(format!(
            "Duitku takes whole rupiah only; {amount} has cents."
        )));
    }
    amount
        .trunc()
        .to_i64()
        .ok_or_else(|| ProviderError::Refused(format!("The amount {amount} is too large.")))
}

fn check_order_id(order_id: &str) -> Result<(), ProviderError> {
    if order_id.is_empty() {
        return Err(ProviderError::Refused("The order id is empty.".into()));
    }
    if order_id.chars().count() > MAX_ORDER_ID_CHARS {
        return Err(ProviderError::Refused(format!(
            "The order id is longer than Duitku's {MAX_ORDER_ID_CHARS} characters."
        )));
    }
    if order_id
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ProviderError::Refused(
            "The order id contains spaces or control characters.".into(),
        ));
    }
    Ok(())
}

/// A non-empty text field; numbers are taken as their text.
fn text_field(answer: &Map<String, Value>, key: &str) -> Option<String> {
    match answer.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Duitku sends amounts as strings ("40000", "0.00"); numbers are accepted.
fn decimal_field(answer: &Map<String, Value>, key: &str) -> Option<Decimal> {
    match answer.get(key)? {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

/// The message of an error answer: Duitku's `{"Message": "..."}`, a few
/// other casings, a JSON string, or short plain text (never an HTML page).
fn gateway_message(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => ["Message", "message", "statusMessage", "error"]
            .iter()
            .find_map(|key| match map.get(*key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            }),
        Ok(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Ok(_) => None,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() || text.starts_with('<') {
                None
            } else {
                Some(text.chars().take(200).collect())
            }
        }
    }
}

#[derive(Clone)]
pub struct Duitku {
    config: DuitkuConfig,
    timeout: Duration,
    http: reqwest::Client,
}

/// Hand-written so the API key never reaches a log line through `{:?}`.
impl fmt::Debug for Duitku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Duitku")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Duitku {
    pub fn new(config: DuitkuConfig) -> Duitku {
        Duitku::with_timeout(config, DEFAULT_TIMEOUT)
    }

    /// `timeout` bounds each whole call, connecting included.
    pub fn with_timeout(config: DuitkuConfig, timeout: Duration) -> Duitku {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .timeout(timeout)
            .build()
            // Only fails when the TLS backend cannot initialise, which no
            // request could recover from either.
            .expect("TLS backend for the Duitku client");
        Duitku {
            config,
            timeout,
            http,
        }
    }

    pub fn config(&self) -> &DuitkuConfig {
        &self.config
    }

    /// The Duitku method code used for a channel.
    pub fn method_for(&self, channel: Channel) -> &str {
        match channel {
            Channel::Qris => &self.config.qris_method,
            Channel::VirtualAccount => &self.config.va_method,
        }
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut base = self.config.base_url.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        base.join(path)
            .expect("a relative path joins any http(s) URL")
    }

    /// POSTs JSON and returns the answer's object: 4xx is Duitku refusing
    /// (with its message), 5xx and transport failures are it unreachable.
    async fn call(&self, path: &str, body: &Value) -> Result<Map<String, Value>, ProviderError> {
        let response = self
            .http
            .post(self.endpoint(path))
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        if status.is_success() {
            return match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err(ProviderError::BadAnswer("not a JSON object".into())),
                Err(e) => Err(ProviderError::BadAnswer(format!("not JSON: {e}"))),
            };
        }
        let message = gateway_message(&bytes);
        if status.is_server_error() {
            return Err(ProviderError::Unreachable(match message {
                Some(m) => format!("Duitku answered HTTP {}: {m}", status.as_u16()),
                None => format!("Duitku answered HTTP {}", status.as_u16()),
            }));
        }
        Err(ProviderError::Refused(message.unwrap_or_else(|| {
            format!("Duitku refused the request (HTTP {}).", status.as_u16())
        })))
    }

    fn transport_error(&self, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::Unreachable(format!("Duitku did not answer within {:?}", self.timeout))
        } else if e.is_connect() {
            ProviderError::Unreachable(format!("cannot connect to Duitku: {}", e.without_url()))
        } else {
            ProviderError::Unreachable(format!("request to Duitku failed: {}", e.without_url()))
        }
    }

    async fn open_inner(&self, req: OpenRequest) -> Result<Opened, ProviderError> {
        let amount = whole_rupiah(req.amount)?;
        check_order_id(&req.order_id)?;
        let method = self.method_for(req.channel).to_string();
        let c = &self.config;
        let description = match req.description.trim() {
            "" => format!("Order {}", req.order_id),
            d => d.to_string(),
        };
        let email = req
            .customer_email
            .as_deref()
            .map(str::trim)
            .filter(|e| plausible_email(e))
            .unwrap_or(&c.email);
        let mut body = json!({
            "merchantCode": c.merchant_code,
            "paymentAmount": amount,
            "paymentMethod": method,
            "merchantOrderId": req.order_id,
            "productDetails": description,
            "email": email,
            "callbackUrl": c.callback_url.as_str(),
            "returnUrl": c.return_url.as_str(),
            "signature": inquiry_signature(&c.merchant_code, &req.order_id, amount, &c.api_key),
        });
        if !req.customer_name.trim().is_empty() {
            body["customerVaName"] = json!(req.customer_name.trim());
        }
        if req.expiry_minutes > 0 {
            body["expiryPeriod"] = json!(req.expiry_minutes);
        }

        let answer = self.call(INQUIRY_PATH, &body).await.inspect_err(|e| {
            tracing::warn!(order_id = %req.order_id, method = %method, error = %e, "Duitku inquiry failed");
        })?;

        if let Some(code) = text_field(&answer, "statusCode")
            && code != "00"
        {
            let message = text_field(&answer, "statusMessage")
                .unwrap_or_else(|| format!("Duitku refused the payment (status {code})."));
            tracing::warn!(order_id = %req.order_id, %code, %message, "Duitku inquiry refused");
            return Err(ProviderError::Refused(message));
        }
        if let Some(code) = text_field(&answer, "merchantCode")
            && code != c.merchant_code
        {
            return Err(ProviderError::BadAnswer(format!(
                "answer is for merchant {code}, not {}",
                c.merchant_code
            )));
        }
        let reference = text_field(&answer, "reference")
            .ok_or_else(|| ProviderError::BadAnswer("no reference in the answer".into()))?;
        let qr_string = text_field(&answer, "qrString");
        let va_number = text_field(&answer, "vaNumber");
        match req.channel {
            Channel::Qris if qr_string.is_none() => {
                return Err(ProviderError::BadAnswer(format!(
                    "no qrString for QRIS method {method}"
                )));
            }
            Channel::VirtualAccount if va_number.is_none() => {
                return Err(ProviderError::BadAnswer(format!(
                    "no vaNumber for virtual-account method {method}"
                )));
            }
            _ => {}
        }
        let answered = decimal_field(&answer, "amount").unwrap_or_else(|| Decimal::from(amount));
        if answered < Decimal::from(amount) {
            return Err(ProviderError::BadAnswer(format!(
                "Duitku would collect {answered}, less than the {amount} asked"
            )));
        }
        Ok(Opened {
            reference,
            qr_string,
            va_number,
            payment_url: text_field(&answer, "paymentUrl"),
            amount: answered,
            method_code: method,
        })
    }

    async fn status_inner(&self, order_id: &str) -> Result<Notice, ProviderError> {
        check_order_id(order_id)?;
        let c = &self.config;
        let body = json!({
            "merchantCode": c.merchant_code,
            "merchantOrderId": order_id,
            "signature": status_signature(&c.merchant_code, order_id, &c.api_key),
        });
        let answer = self.call(STATUS_PATH, &body).await.inspect_err(|e| {
            tracing::warn!(order_id, error = %e, "Duitku status check failed");
        })?;
        let settlement = match text_field(&answer, "statusCode").as_deref() {
            Some("00") => Settlement::Paid,
            Some("01") => Settlement::Pending,
            Some("02") => Settlement::Failed,
            Some(other) => {
                return Err(ProviderError::BadAnswer(format!(
                    "unknown statusCode {other:?}"
                )));
            }
            None => {
                return Err(ProviderError::BadAnswer(
                    "no statusCode in the answer".into(),
                ));
            }
        };
        if let Some(answered) = text_field(&answer, "merchantOrderId")
            && answered != order_id
        {
            return Err(ProviderError::BadAnswer(format!(
                "answer is for order {answered}, not {order_id}"
            )));
        }
        let amount = decimal_field(&answer, "amount")
            .ok_or_else(|| ProviderError::BadAnswer("no amount in the answer".into()))?;
        Ok(Notice {
            order_id: order_id.to_string(),
            amount,
            reference: text_field(&answer, "reference"),
            settlement,
            settlement_verified: true,
            raw: Value::Object(answer),
        })
    }

    fn verify_notice_inner(&self, form: &[(String, String)]) -> Result<Notice, NoticeError> {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in form {
            if fields.insert(name, value).is_some() {
                return Err(NoticeError::Malformed(format!(
                    "{name} appears more than once"
                )));
            }
        }
        let field = |name: &str| {
            fields
                .get(name)
                .copied()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| NoticeError::Malformed(format!("{name} is missing")))
        };

        let merchant_code = field("merchantCode")?;
        if merchant_code != self.config.merchant_code {
            return Err(NoticeError::Malformed(format!(
                "merchantCode {merchant_code} is not this merchant's"
            )));
        }
        let amount_text = field("amount")?;
        let amount = Decimal::from_str(amount_text)
            .ok()
            .filter(|a| *a > Decimal::ZERO)
            .ok_or_else(|| {
                NoticeError::Malformed(format!("amount {amount_text:?} is not an amount"))
            })?;
        let order_id = field("merchantOrderId")?;
        let signature = field("signature")?;
        let expected =
            callback_signature(merchant_code, amount_text, order_id, &self.config.api_key);
        if !signature_matches(signature, &expected) {
            // Neither the key nor the expected signature is logged.
            tracing::warn!(
                order_id,
                amount = amount_text,
                "Duitku callback with a bad signature"
            );
            return Err(NoticeError::BadSignature);
        }
        let settlement = match field("resultCode")? {
            "00" => Settlement::Paid,
            "01" => Settlement::Failed,
            other => {
                return Err(NoticeError::Malformed(format!(
                    "unknown resultCode {other:?}"
                )));
            }
        };
        let raw = fields
            .iter()
            .filter(|(name, _)| **name != "signature")
            .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
            .collect::<Map<_, _>>();
        Ok(Notice {
            order_id: order_id.to_string(),
            amount,
            reference: fields
                .get("reference")
                .filter(|r| !r.is_empty())
                .map(|r| r.to_string()),
            settlement,
            // resultCode is outside the signature.
            settlement_verified: false,
            raw: Value::Object(raw),
        })
    }
}

impl Provider for Duitku {
    fn name(&self) -> &'static str {
        "duitku"
    }

    fn open(&self, req: OpenRequest) -> BoxFuture<'_, Result<Opened, ProviderError>> {
        Box::pin(self.open_inner(req))
    }

    fn status<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Notice, ProviderError>> {
        Box::pin(self.status_inner(order_id))
    }

    fn verify_notice(&self, form: &[(String, String)]) -> Result<Notice, NoticeError> {
        self.verify_notice_inner(form)
    }

    /// Duitku looks at the HTTP status; the body is for people reading its
    /// callback log.
    fn ack(&self) -> (u16, &'static str) {
        (200, "SUCCESS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Duitku's documentation sample key (docs.duitku.com/api/en).
    const DOC_KEY: &str = "732B39FC61796845775D2C4FB05332AF";

    #[test]
    fn signatures_match_independent_md5() {
        // python3 -c 'import hashlib;print(hashlib.md5(b"D0001KSR-20250617-004215000732B39FC61796845775D2C4FB05332AF").hexdigest())'
        assert_eq!(
            inquiry_signature("D0001", "KSR-20250617-0042", 15000, DOC_KEY),
            "8dfb82ad89a144fb7af2b8c991c0a485"
        );
        // python3 -c 'import hashlib;print(hashlib.md5(b"D000115000KSR-20250617-0042732B39FC61796845775D2C4FB05332AF").hexdigest())'
        assert_eq!(
            callback_signature("D0001", "15000", "KSR-20250617-0042", DOC_KEY),
            "261de7aefd5baceb343cd0044467fcc5"
        );
        // python3 -c 'import hashlib;print(hashlib.md5(b"D0001KSR-20250617-0042732B39FC61796845775D2C4FB05332AF").hexdigest())'
        assert_eq!(
            status_signature("D0001", "KSR-20250617-0042", DOC_KEY),
            "a21a711d3373e90710488e483bf2a912"
        );
    }

    /// duitku-php's own callback fixture (tests/params/ParamsCallback.json),
    /// signed with the documentation key.
    #[test]
    fn verifies_duitkus_own_callback_fixture() {
        let duitku = Duitku::new(config("D0001", DOC_KEY));
        let form = pairs(&[
            ("merchantOrderId", "12345"),
            ("resultCode", "00"),
            ("merchantCode", "D0001"),
            ("amount", "10000"),
            ("productDetail", ""),
            ("paymentCode", ""),
            ("reference", "D00015HL5BJKRM27MCUS"),
            ("additionalParam", ""),
            ("signature", "4104f20a70c933113c66c004fe25a9f1"),
        ]);
        let notice = duitku.verify_notice(&form).unwrap();
        assert_eq!(notice.order_id, "12345");
        assert_eq!(notice.amount, Decimal::from(10000));
        assert_eq!(notice.reference.as_deref(), Some("D00015HL5BJKRM27MCUS"));
        assert_eq!(notice.settlement, Settlement::Paid);
        assert!(!notice.settlement_verified);
        assert!(notice.raw.get("signature").is_none());
        assert_eq!(notice.raw["amount"], "10000");

        // Upper-case hex is the same signature.
        let mut upper = form.clone();
        upper[8].1 = upper[8].1.to_ascii_uppercase();
        assert!(duitku.verify_notice(&upper).is_ok());

        // The amount is signed as text: "10000.00" is another message.
        let mut cents = form.clone();
        cents[3].1 = "10000.00".into();
        assert_eq!(duitku.verify_notice(&cents), Err(NoticeError::BadSignature));

        let mut twice = form.clone();
        twice.push(("amount".into(), "1".into()));
        assert!(matches!(
            duitku.verify_notice(&twice),
            Err(NoticeError::Malformed(_))
        ));

        let mut unknown = form;
        unknown[1].1 = "02".into();
        assert!(matches!(
            duitku.verify_notice(&unknown),
            Err(NoticeError::Malformed(_))
        ));
    }

    #[test]
    fn whole_rupiah_only() {
        assert_eq!(whole_rupiah(Decimal::new(1500000, 2)), Ok(15000));
        assert_eq!(whole_rupiah(Decimal::from(1)), Ok(1));
        for bad in [Decimal::new(1500050, 2), Decimal::ZERO, Decimal::from(-5)] {
            assert!(
                matches!(whole_rupiah(bad), Err(ProviderError::Refused(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn config_off_when_nothing_is_set() {
        assert_eq!(DuitkuConfig::from_lookup(|_| None), Ok(None));
        assert_eq!(DuitkuConfig::from_lookup(|_| Some("  ".into())), Ok(None));
    }

    #[test]
    fn config_with_defaults() {
        let c = DuitkuConfig::from_lookup(lookup(&[
            ("DUITKU_MERCHANT_CODE", "DS12345"),
            ("DUITKU_API_KEY", DOC_KEY),
            (
                "DUITKU_CALLBACK_URL",
                "https://kasir.example.id/api/payments/duitku/callback",
            ),
            ("DUITKU_EMAIL", "toko@example.id"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.base_url.as_str(), "https://sandbox.duitku.com/");
        assert_eq!(c.return_url.as_str(), "https://kasir.example.id/");
        assert_eq!(c.qris_method, "SP");
        assert_eq!(c.va_method, "BC");
        let shown = format!("{c:?}");
        assert!(!shown.contains(DOC_KEY), "{shown}");
        assert!(shown.contains("<redacted>"));
        let shown = format!("{:?}", Duitku::new(c));
        assert!(!shown.contains(DOC_KEY), "{shown}");
    }

    #[test]
    fn config_overrides() {
        let c = DuitkuConfig::from_lookup(lookup(&[
            ("DUITKU_MERCHANT_CODE", "DS12345"),
            ("DUITKU_API_KEY", DOC_KEY),
            ("DUITKU_BASE_URL", PRODUCTION_BASE_URL),
            ("DUITKU_CALLBACK_URL", "https://kasir.example.id/cb"),
            ("DUITKU_RETURN_URL", "https://kasir.example.id/paid"),
            ("DUITKU_EMAIL", "toko@example.id"),
            ("DUITKU_QRIS_METHOD", "nq"),
            ("DUITKU_VA_METHOD", "I1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.base_url.as_str(), "https://passport.duitku.com/");
        assert_eq!(c.return_url.as_str(), "https://kasir.example.id/paid");
        assert_eq!((c.qris_method.as_str(), c.va_method.as_str()), ("NQ", "I1"));
    }

    #[test]
    fn config_errors_name_the_variable() {
        let base = [
            ("DUITKU_MERCHANT_CODE", "DS12345"),
            ("DUITKU_API_KEY", DOC_KEY),
            ("DUITKU_CALLBACK_URL", "https://kasir.example.id/cb"),
            ("DUITKU_EMAIL", "toko@example.id"),
        ];
        for missing in REQUIRED_VARS {
            let some: Vec<_> = base
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let e = DuitkuConfig::from_lookup(lookup(&some)).unwrap_err();
            assert!(e.starts_with(missing), "{e}");
        }
        // An optional one alone still means someone meant to turn it on.
        let e = DuitkuConfig::from_lookup(lookup(&[("DUITKU_QRIS_METHOD", "SP")])).unwrap_err();
        assert!(e.starts_with("DUITKU_MERCHANT_CODE"), "{e}");

        for (var, value) in [
            ("DUITKU_BASE_URL", "ftp://sandbox.duitku.com"),
            ("DUITKU_CALLBACK_URL", "not a url"),
            ("DUITKU_RETURN_URL", "mailto:x@example.id"),
            ("DUITKU_EMAIL", "toko"),
            ("DUITKU_QRIS_METHOD", "QRIS"),
            ("DUITKU_VA_METHOD", "B-"),
            ("DUITKU_MERCHANT_CODE", "DS 12345"),
        ] {
            let mut pairs: Vec<_> = base.iter().copied().filter(|(k, _)| *k != var).collect();
            pairs.push((var, value));
            let e = DuitkuConfig::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(e.starts_with(var), "{var}: {e}");
            assert!(!e.contains(DOC_KEY), "{e}");
        }
    }

    #[test]
    fn endpoint_keeps_a_base_path() {
        let mut c = config("D0001", DOC_KEY);
        c.base_url = Url::parse("http://127.0.0.1:9/prefix").unwrap();
        assert_eq!(
            Duitku::new(c).endpoint(INQUIRY_PATH).as_str(),
            "http://127.0.0.1:9/prefix/webapi/api/merchant/v2/inquiry"
        );
    }

    #[test]
    fn gateway_messages() {
        assert_eq!(
            gateway_message(br#"{"Message":"Minimum Payment 10000 IDR"}"#).as_deref(),
            Some("Minimum Payment 10000 IDR")
        );
        assert_eq!(
            gateway_message(b"\"Wrong signature\"").as_deref(),
            Some("Wrong signature")
        );
        assert_eq!(
            gateway_message(b"Bad request").as_deref(),
            Some("Bad request")
        );
        assert_eq!(gateway_message(b"<html><body>502</body></html>"), None);
        assert_eq!(gateway_message(b"{}"), None);
    }

    fn config(merchant_code: &str, api_key: &str) -> DuitkuConfig {
        DuitkuConfig {
            merchant_code: merchant_code.into(),
            api_key: api_key.into(),
            base_url: Url::parse(SANDBOX_BASE_URL).unwrap(),
            callback_url: Url::parse("https://kasir.example.id/cb").unwrap(),
            return_url: Url::parse("https://kasir.example.id/").unwrap(),
            email: "toko@example.id".into(),
            qris_method: DEFAULT_QRIS_METHOD.into(),
            va_method: DEFAULT_VA_METHOD.into(),
        }
    }

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lookup(raw: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = raw
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }
}
