//! A local stand-in for Duitku's v2 API, checking what Duitku checks
//! (merchant code, MD5 signature, required fields, an integer amount above
//! zero, a known payment method, a unique order id) and answering in its
//! shapes, plus the form-encoded callback Duitku POSTs when a payment
//! settles, so the client and the callback handler are tested against a
//! server that can say no.
//!
//! The signatures are written here from Duitku's documentation and
//! deliberately do not call the client's signer: sharing it would make a bug
//! in it invisible.
//!
//! Error statuses follow what Duitku is known to answer (`{"Message": ...}`
//! with 400, 401 for a wrong signature); the exact status for an unknown
//! merchant, method or order is a best guess, and the client treats every
//! 4xx alike.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};
use url::Url;

// In the main crate: `use kasirgo::payments::duitku::DuitkuConfig;`
use kasirgo::payments::duitku::DuitkuConfig;

pub const MERCHANT_CODE: &str = "DS20419";
/// Shaped like Duitku's keys: 32 upper-case hex digits.
pub const API_KEY: &str = "5F1C0B2E9A7D4C3B8E6F0A1D2C3B4A59";
pub const EMAIL: &str = "kasir@toko-contoh.id";

/// QRIS methods: ShopeePay, Nobu, Gudang Voucher, Nusapay.
const QRIS_METHODS: [&str; 4] = ["SP", "NQ", "GQ", "SQ"];
/// Virtual accounts: BCA, Mandiri, Maybank, BNI, CIMB Niaga, Permata, ATM
/// Bersama, Artha Graha, Neo Commerce, BRI, Sampoerna, Danamon, BSI.
const VA_METHODS: [&str; 13] = [
    "BC", "M2", "VA", "I1", "B1", "BT", "A1", "AG", "NC", "BR", "S1", "DM", "BV",
];
/// Cards, e-wallet apps and retail outlets: known, but neither QR nor VA.
const OTHER_METHODS: [&str; 8] = ["VC", "OV", "SA", "DA", "LA", "SL", "FT", "IR"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvoiceState {
    Pending,
    Paid,
    Failed,
}

/// One accepted inquiry.
#[derive(Clone, Debug)]
pub struct RecordedInvoice {
    pub order_id: String,
    pub reference: String,
    pub amount: i64,
    pub method: String,
    pub callback_url: String,
    pub return_url: String,
    pub product_details: String,
    pub email: String,
    pub state: InvoiceState,
    /// The JSON body as sent, signature included.
    pub request: Value,
}

#[derive(Default)]
struct Inner {
    invoices: Vec<RecordedInvoice>,
    rejections: Vec<String>,
    refuse_next: Option<String>,
    hang_next: bool,
    serial: u64,
}

#[derive(Clone)]
struct Shared {
    merchant_code: String,
    api_key: String,
    base_url: Url,
    inner: Arc<Mutex<Inner>>,
}

pub struct FakeDuitku {
    pub merchant_code: String,
    pub api_key: String,
    base_url: Url,
    shared: Shared,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDuitku {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDuitku {
    /// Serves on 127.0.0.1 on a free port, in the calling test's runtime.
    pub async fn start() -> FakeDuitku {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Duitku");
        let port = listener.local_addr().unwrap().port();
        let base_url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let shared = Shared {
            merchant_code: MERCHANT_CODE.to_string(),
            api_key: API_KEY.to_string(),
            base_url: base_url.clone(),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/webapi/api/merchant/v2/inquiry", post(inquiry))
            .route(
                "/webapi/api/merchant/transactionStatus",
                post(transaction_status),
            )
            .fallback(|| async { message(StatusCode::NOT_FOUND, "Not Found") })
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Duitku");
        });
        FakeDuitku {
            merchant_code: MERCHANT_CODE.to_string(),
            api_key: API_KEY.to_string(),
            base_url,
            shared,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            server,
        }
    }

    /// What `DUITKU_BASE_URL` should be set to.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The configuration the app would read from [`FakeDuitku::env`].
    pub fn config(&self, callback_url: &Url) -> DuitkuConfig {
        DuitkuConfig {
            merchant_code: self.merchant_code.clone(),
            api_key: self.api_key.clone(),
            base_url: self.base_url(),
            callback_url: callback_url.clone(),
            return_url: Url::parse(&callback_url.origin().ascii_serialization()).unwrap(),
            email: EMAIL.to_string(),
            qris_method: "SP".to_string(),
            va_method: "BC".to_string(),
        }
    }

    /// The `DUITKU_*` variables pointing the app at this fake.
    pub fn env(&self, callback_url: &Url) -> Vec<(String, String)> {
        [
            ("DUITKU_MERCHANT_CODE", self.merchant_code.clone()),
            ("DUITKU_API_KEY", self.api_key.clone()),
            ("DUITKU_BASE_URL", self.base_url.to_string()),
            ("DUITKU_CALLBACK_URL", callback_url.to_string()),
            ("DUITKU_EMAIL", EMAIL.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Accepted inquiries, in order, with their current state.
    pub fn invoices(&self) -> Vec<RecordedInvoice> {
        self.inner().invoices.clone()
    }

    pub fn invoice(&self, order_id: &str) -> Option<RecordedInvoice> {
        self.inner()
            .invoices
            .iter()
            .find(|i| i.order_id == order_id)
            .cloned()
    }

    /// Messages of the requests refused, for asserting why.
    pub fn rejections(&self) -> Vec<String> {
        self.inner().rejections.clone()
    }

    /// The next inquiry is refused with HTTP 400 and this message, as Duitku
    /// refuses (`{"Message": ...}`), and records nothing.
    pub fn refuse_next(&self, message: &str) {
        self.inner().refuse_next = Some(message.to_string());
    }

    /// The next API request, inquiry or status, is never answered.
    pub fn hang_next(&self) {
        self.inner().hang_next = true;
    }

    /// The payer pays: the invoice is marked paid and Duitku's signed
    /// callback (resultCode 00) is POSTed to its callbackUrl. Returns the
    /// HTTP status and body the callback got back.
    pub async fn pay(&self, order_id: &str) -> (u16, String) {
        self.settle(order_id, InvoiceState::Paid, "00").await
    }

    /// The payment fails: marked failed, and a resultCode 01 callback sent.
    pub async fn fail(&self, order_id: &str) -> (u16, String) {
        self.settle(order_id, InvoiceState::Failed, "01").await
    }

    /// The payer pays but the callback never arrives (lost on the way):
    /// only a status query tells.
    pub fn mark_paid(&self, order_id: &str) {
        let mut inner = self.inner();
        let invoice = find(&mut inner, order_id);
        assert_eq!(
            invoice.state,
            InvoiceState::Pending,
            "{order_id} is settled"
        );
        invoice.state = InvoiceState::Paid;
    }

    /// The invoice expires unpaid; no callback.
    pub fn expire(&self, order_id: &str) {
        let mut inner = self.inner();
        let invoice = find(&mut inner, order_id);
        assert_eq!(
            invoice.state,
            InvoiceState::Pending,
            "{order_id} is settled"
        );
        invoice.state = InvoiceState::Failed;
    }

    async fn settle(
        &self,
        order_id: &str,
        state: InvoiceState,
        result_code: &str,
    ) -> (u16, String) {
        let (url, form) = {
            let mut inner = self.inner();
            let invoice = find(&mut inner, order_id);
            assert_eq!(
                invoice.state,
                InvoiceState::Pending,
                "{order_id} is settled"
            );
            invoice.state = state;
            let invoice = invoice.clone();
            let form = self.shared.callback_form(
                Some(&invoice),
                order_id,
                &invoice.amount.to_string(),
                result_code,
            );
            (invoice.callback_url, form)
        };
        self.post_callback(&url, &form).await
    }

    /// The callback Duitku would send for `order_id`, signed; for tests to
    /// tamper with. Uses the invoice's reference and method when there is one.
    pub fn signed_form(
        &self,
        order_id: &str,
        amount: i64,
        result_code: &str,
    ) -> Vec<(String, String)> {
        let invoice = self.invoice(order_id);
        self.shared
            .callback_form(invoice.as_ref(), order_id, &amount.to_string(), result_code)
    }

    /// POSTs `form` as Duitku does (`application/x-www-form-urlencoded`)
    /// and returns the HTTP status and body answered.
    pub async fn post_callback(&self, url: &str, form: &[(String, String)]) -> (u16, String) {
        let body = serde_urlencoded::to_string(form).expect("encode the callback form");
        let response = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST the callback to {url}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }
}

fn find<'a>(inner: &'a mut Inner, order_id: &str) -> &'a mut RecordedInvoice {
    inner
        .invoices
        .iter_mut()
        .find(|i| i.order_id == order_id)
        .unwrap_or_else(|| panic!("the fake Duitku has no invoice for {order_id}"))
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "Message": text }))).into_response()
}

struct Refusal(StatusCode, String);

fn bad(text: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, text.into())
}

impl Shared {
    fn refuse(&self, Refusal(status, text): Refusal) -> Response {
        self.inner.lock().unwrap().rejections.push(text.clone());
        message(status, &text)
    }

    /// Returns true when this request must hang.
    fn take_hang(&self) -> bool {
        std::mem::take(&mut self.inner.lock().unwrap().hang_next)
    }

    fn callback_form(
        &self,
        invoice: Option<&RecordedInvoice>,
        order_id: &str,
        amount: &str,
        result_code: &str,
    ) -> Vec<(String, String)> {
        let method = invoice.map_or("SP", |i| i.method.as_str());
        let reference = invoice.map_or_else(
            || format!("{}{}NOINVOICE0000", self.merchant_code, yymm()),
            |i| i.reference.clone(),
        );
        let is_qris = QRIS_METHODS.contains(&method);
        let is_shopee = matches!(method, "SP" | "SA" | "SL");
        let signature = md5_hex(&format!(
            "{}{amount}{order_id}{}",
            self.merchant_code, self.api_key
        ));
        let publisher_digits: String = md5_hex(&reference)
            .bytes()
            .map(|b| char::from(b'0' + b % 10))
            .take(15)
            .collect();
        [
            ("merchantCode", self.merchant_code.clone()),
            ("amount", amount.to_string()),
            ("merchantOrderId", order_id.to_string()),
            (
                "productDetail",
                invoice
                    .map(|i| i.product_details.clone())
                    .unwrap_or_default(),
            ),
            (
                "additionalParam",
                text(invoice.map(|i| &i.request), "additionalParam"),
            ),
            ("paymentCode", method.to_string()),
            ("resultCode", result_code.to_string()),
            (
                "merchantUserId",
                text(invoice.map(|i| &i.request), "merchantUserInfo"),
            ),
            ("reference", reference.clone()),
            ("signature", signature),
            ("publisherOrderId", format!("{method}{publisher_digits}")),
            (
                "spUserHash",
                if is_shopee {
                    md5_hex(&format!("user{reference}"))
                } else {
                    String::new()
                },
            ),
            ("settlementDate", today()),
            (
                "issuerCode",
                if is_qris {
                    "93600014".to_string()
                } else {
                    String::new()
                },
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn text(body: Option<&Value>, key: &str) -> String {
    body.and_then(|b| b.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad("Invalid request body")),
    }
}

/// A required string field, present and non-empty.
fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    match body.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(bad(format!("{name} is mandatory")))
        }
        Some(_) => Err(bad(format!("{name} must be a string"))),
    }
}

impl Shared {
    /// Duitku's checks on an inquiry, in a plausible order; Ok is the
    /// invoice to record.
    fn check_inquiry(&self, body: &Map<String, Value>) -> Result<RecordedInvoice, Refusal> {
        let merchant_code = required(body, "merchantCode")?;
        if merchant_code != self.merchant_code {
            return Err(Refusal(StatusCode::NOT_FOUND, "Merchant not found".into()));
        }
        // An integer: a JSON number without a fraction (PHP samples send a
        // digit string, which Duitku also takes).
        let amount = match body.get("paymentAmount") {
            None | Some(Value::Null) => return Err(bad("paymentAmount is mandatory")),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
            Some(_) => None,
        }
        .ok_or_else(|| bad("paymentAmount must be an integer"))?;
        if amount <= 0 {
            return Err(bad("paymentAmount must be greater than 0"));
        }
        let order_id = required(body, "merchantOrderId")?;
        let signature = required(body, "signature")?;
        let expected = md5_hex(&format!(
            "{merchant_code}{order_id}{amount}{}",
            self.api_key
        ));
        if signature.to_ascii_lowercase() != expected {
            return Err(Refusal(StatusCode::UNAUTHORIZED, "Wrong signature".into()));
        }
        let method = required(body, "paymentMethod")?;
        if ![&QRIS_METHODS[..], &VA_METHODS[..], &OTHER_METHODS[..]]
            .concat()
            .contains(&method)
        {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                "Payment channel not available".into(),
            ));
        }
        if order_id.chars().count() > 50 {
            return Err(bad("merchantOrderId max length is 50"));
        }
        let product_details = required(body, "productDetails")?;
        let email = required(body, "email")?;
        if !email.contains('@') {
            return Err(bad("email is not valid"));
        }
        let mut urls = Vec::new();
        for name in ["callbackUrl", "returnUrl"] {
            let raw = required(body, name)?;
            match Url::parse(raw) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => urls.push(raw.to_string()),
                _ => return Err(bad(format!("{name} is not valid"))),
            }
        }
        if let Some(expiry) = body.get("expiryPeriod")
            && expiry.as_i64().is_none_or(|m| m <= 0)
        {
            return Err(bad("expiryPeriod must be a positive integer"));
        }
        let inner = self.inner.lock().unwrap();
        if inner.invoices.iter().any(|i| i.order_id == order_id) {
            return Err(bad("Duplicate merchantOrderId"));
        }
        let reference = format!(
            "{merchant_code}{}{}",
            yymm(),
            reference_suffix(inner.serial + 1, self.base_url.port().unwrap_or(0))
        );
        Ok(RecordedInvoice {
            order_id: order_id.to_string(),
            reference,
            amount,
            method: method.to_string(),
            return_url: urls.pop().unwrap(),
            callback_url: urls.pop().unwrap(),
            product_details: product_details.to_string(),
            email: email.to_string(),
            state: InvoiceState::Pending,
            request: Value::Object(body.clone()),
        })
    }
}

async fn inquiry(State(shared): State<Shared>, body: Bytes) -> Response {
    if shared.take_hang() {
        return std::future::pending().await;
    }
    if let Some(text) = shared.inner.lock().unwrap().refuse_next.take() {
        return message(StatusCode::BAD_REQUEST, &text);
    }
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(refusal) => return shared.refuse(refusal),
    };
    let invoice = match shared.check_inquiry(&body) {
        Ok(invoice) => invoice,
        Err(refusal) => return shared.refuse(refusal),
    };
    let mut inner = shared.inner.lock().unwrap();
    inner.serial += 1;
    let serial = inner.serial;
    inner.invoices.push(invoice.clone());
    drop(inner);

    let is_qris = QRIS_METHODS.contains(&invoice.method.as_str());
    let is_va = VA_METHODS.contains(&invoice.method.as_str());
    let qr_string = if is_qris {
        qris_payload(&invoice.reference, invoice.amount)
    } else {
        String::new()
    };
    let va_number = if is_va {
        format!("{}{:011}", va_prefix(&invoice.method), 40_000_000 + serial)
    } else {
        String::new()
    };
    let mut payment_url = shared.base_url.join("topup/topupdirectv2.aspx").unwrap();
    payment_url
        .query_pairs_mut()
        .append_pair("ref", &invoice.reference);
    axum::Json(json!({
        "merchantCode": shared.merchant_code,
        "reference": invoice.reference,
        "paymentUrl": payment_url.as_str(),
        "vaNumber": va_number,
        "qrString": qr_string,
        "amount": invoice.amount.to_string(),
        "statusCode": "00",
        "statusMessage": "SUCCESS",
    }))
    .into_response()
}

async fn transaction_status(State(shared): State<Shared>, body: Bytes) -> Response {
    if shared.take_hang() {
        return std::future::pending().await;
    }
    let checked = parse_body(&body).and_then(|body| {
        let merchant_code = required(&body, "merchantCode")?;
        if merchant_code != shared.merchant_code {
            return Err(Refusal(StatusCode::NOT_FOUND, "Merchant not found".into()));
        }
        let order_id = required(&body, "merchantOrderId")?;
        let signature = required(&body, "signature")?;
        let expected = md5_hex(&format!("{merchant_code}{order_id}{}", shared.api_key));
        if signature.to_ascii_lowercase() != expected {
            return Err(Refusal(StatusCode::UNAUTHORIZED, "Wrong signature".into()));
        }
        let inner = shared.inner.lock().unwrap();
        inner
            .invoices
            .iter()
            .find(|i| i.order_id == order_id)
            .cloned()
            .ok_or_else(|| bad("Transaction not found"))
    });
    let invoice = match checked {
        Ok(invoice) => invoice,
        Err(refusal) => return shared.refuse(refusal),
    };
    let (code, text) = match invoice.state {
        InvoiceState::Paid => ("00", "SUCCESS"),
        InvoiceState::Pending => ("01", "PROCESS"),
        InvoiceState::Failed => ("02", "FAILED"),
    };
    axum::Json(json!({
        "merchantOrderId": invoice.order_id,
        "reference": invoice.reference,
        "amount": invoice.amount.to_string(),
        "fee": "0.00",
        "statusCode": code,
        "statusMessage": text,
    }))
    .into_response()
}

fn va_prefix(method: &str) -> &'static str {
    match method {
        "BC" => "70070",
        "M2" => "70014",
        "I1" => "88108",
        "BR" => "12345",
        _ => "98765",
    }
}

/// Thirteen upper-case letters and digits, unique per invoice.
fn reference_suffix(serial: u64, salt: u16) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    Md5::digest(format!("{salt}/{serial}").as_bytes())
        .iter()
        .take(13)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A dynamic QRIS payload (EMVCo TLV, CRC-16/CCITT-FALSE), like the one
/// Duitku returns for a QRIS method.
fn qris_payload(reference: &str, amount: i64) -> String {
    fn tlv(tag: &str, value: &str) -> String {
        assert!(value.len() < 100, "QRIS field {tag} too long");
        format!("{tag}{:02}{value}", value.len())
    }
    let account = [
        tlv("00", "ID.CO.SHOPEE.WWW"),
        tlv("01", "936009180000041912"),
        tlv("02", MERCHANT_CODE),
        tlv("03", "UMI"),
    ]
    .concat();
    let mut payload = [
        tlv("00", "01"),
        tlv("01", "12"),
        tlv("26", &account),
        tlv("52", "5812"),
        tlv("53", "360"),
        tlv("54", &amount.to_string()),
        tlv("58", "ID"),
        tlv("59", "TOKO CONTOH KASIRGO"),
        tlv("60", "JAKARTA"),
        tlv("61", "11530"),
        tlv("62", &tlv("05", reference)),
    ]
    .concat();
    payload.push_str("6304");
    let crc = super::qris::crc16(payload.as_bytes());
    payload.push_str(&format!("{crc:04X}"));
    payload
}

/// Today's date in UTC as (year, month, day).
fn civil_today() -> (i64, u32, u32) {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn today() -> String {
    let (y, m, d) = civil_today();
    format!("{y:04}-{m:02}-{d:02}")
}

fn yymm() -> String {
    let (y, m, _) = civil_today();
    format!("{:02}{m:02}", y % 100)
}
