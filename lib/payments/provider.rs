//! What the till needs from a payment gateway, whichever it is: open a QRIS
//! or virtual-account payment, read its status, and check the gateway's
//! notices. Duitku is the first; Midtrans or Xendit would be another
//! implementation of [`Provider`].
//!
//! The trait is dyn-compatible (`Arc<dyn Provider>` in the app state) and
//! needs no `async-trait`: the async methods return boxed futures.

use std::future::Future;
use std::pin::Pin;

use rust_decimal::Decimal;

/// A boxed, sendable future borrowing from `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the till asked for; each provider maps it to its own method code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Qris,
    VirtualAccount,
}

/// A payment to open at the gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenRequest {
    /// Ours, unique per attempt: the gateway refuses one it has seen.
    pub order_id: String,
    /// Whole rupiah, greater than zero.
    pub amount: Decimal,
    pub channel: Channel,
    /// Shown to the payer (Duitku's `productDetails`).
    pub description: String,
    /// Shown on the bank's confirmation screen; may be empty.
    pub customer_name: String,
    /// The payer's e-mail, when the till has one; otherwise the provider's
    /// configured fallback is sent.
    pub customer_email: Option<String>,
    /// Zero leaves the gateway's default.
    pub expiry_minutes: u32,
}

/// The gateway's answer to [`Provider::open`]: what the till shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    /// The gateway's own id for the payment.
    pub reference: String,
    /// The QRIS payload to draw as a QR code.
    pub qr_string: Option<String>,
    pub va_number: Option<String>,
    /// The gateway's hosted payment page.
    pub payment_url: Option<String>,
    /// What the gateway will collect, as it answered.
    pub amount: Decimal,
    /// The gateway's method code actually used (Duitku: "SP", "BC", ...).
    pub method_code: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    Paid,
    /// Failed, cancelled or expired: the payment will not come.
    Failed,
    Pending,
}

/// A payment's state, from a verified notice or a status query.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub order_id: String,
    pub amount: Decimal,
    pub reference: Option<String>,
    pub settlement: Settlement,
    /// Whether `settlement` itself is vouched for: read from the provider's
    /// API, or covered by the notice's signature. When `false` (a Duitku
    /// callback: its signature covers merchant, amount and order id but not
    /// the result code), confirm with [`Provider::status`] before acting on
    /// [`Settlement::Paid`].
    pub settlement_verified: bool,
    /// The fields as received, `signature` removed, for the audit log.
    pub raw: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The gateway said no; its own message, fit to show the cashier.
    #[error("{0}")]
    Refused(String),
    /// No answer in time, no connection, or the gateway failing (5xx).
    #[error("payment gateway unreachable: {0}")]
    Unreachable(String),
    /// An answer that cannot be read or does not fit the request.
    #[error("unexpected answer from the payment gateway: {0}")]
    BadAnswer(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("notice signature does not match")]
    BadSignature,
    #[error("malformed notice: {0}")]
    Malformed(String),
}

pub trait Provider: Send + Sync {
    /// Short, lowercase, stable: stored with each payment.
    fn name(&self) -> &'static str;

    fn open(&self, req: OpenRequest) -> BoxFuture<'_, Result<Opened, ProviderError>>;

    /// Asks the gateway for the payment's state. The answer comes from the
    /// gateway's API, so its `settlement` is verified.
    fn status<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Notice, ProviderError>>;

    /// Verifies a notice (form fields as received, in order) and reads it.
    /// Never trusts an unsigned field: see [`Notice::settlement_verified`].
    /// The caller still compares `amount` with the sale's and handles a
    /// repeated notice idempotently.
    fn verify_notice(&self, form: &[(String, String)]) -> Result<Notice, NoticeError>;

    /// The HTTP answer the provider expects for an accepted notice (status,
    /// body text). Anything else may be taken as a failed delivery.
    fn ack(&self) -> (u16, &'static str);
}
