//! Receipts: a sale (or a shift report) laid out once as lines, then
//! rendered as plain text for 58 mm (32 columns) and 80 mm (48 columns)
//! thermal printers, as ESC/POS bytes, or as an HTML page for a phone.
//! Amounts in Indonesian style: `Rp15.000`, `Rp16.927,50`, `-Rp1.000`.

pub mod http;
pub mod links;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::error::{ApiError, ApiResult};
use crate::sales::{PaymentMethod, Sale};
use crate::shifts::Shift;

/// A printer's paper: how many characters fit on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    Mm58,
    Mm80,
}

impl Paper {
    pub fn columns(self) -> usize {
        match self {
            Paper::Mm58 => 32,
            Paper::Mm80 => 48,
        }
    }
}

/// The `paper` parameter's schema.
pub fn paper_choice() -> utoipa::openapi::Object {
    crate::http::choice_or_blank(&["58", "80"])
}

/// `paper=58` (default) or `paper=80`.
pub fn paper(raw: Option<&str>) -> ApiResult<Paper> {
    match raw {
        None | Some("") | Some("58") => Ok(Paper::Mm58),
        Some("80") => Ok(Paper::Mm80),
        Some(_) => Err(ApiError::field("paper", "Must be 58 or 80 (mm).")),
    }
}

/// What the receipt says about the shop (settings).
#[derive(Debug, Clone)]
pub struct Store {
    pub name: String,
    pub address: String,
    pub phone: String,
    pub footer: String,
    pub tz: chrono_tz::Tz,
}

impl Store {
    pub async fn load(conn: &mut PgConnection) -> ApiResult<Store> {
        let s = sqlx::query!(
            "SELECT store_name, store_address, store_phone, receipt_footer, timezone
             FROM store_settings"
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(Store {
            name: s.store_name,
            address: s.store_address,
            phone: s.store_phone,
            footer: s.receipt_footer,
            tz: s.timezone.parse().unwrap_or(chrono_tz::Asia::Jakarta),
        })
    }
}

/// Rupiah as Indonesians write it: `.` between thousands, `,` before
/// cents, cents only when there are some.
pub fn rupiah(amount: Decimal) -> String {
    let negative = amount.is_sign_negative() && !amount.is_zero();
    let mut a = amount.abs().round_dp(2);
    a.rescale(2);
    let text = a.to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let cents = if cents == "00" {
        String::new()
    } else {
        format!(",{cents}")
    };
    format!("{}Rp{grouped}{cents}", if negative { "-" } else { "" })
}

/// One line of a receipt, before it is laid out for a width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Centred, wrapped; bold for the shop's name and the total.
    Center {
        text: String,
        bold: bool,
    },
    /// Left, wrapped; `indent` spaces on every line.
    Text {
        text: String,
        indent: usize,
    },
    /// A label on the left, an amount on the right.
    Pair {
        left: String,
        right: String,
        bold: bool,
    },
    Rule,
    /// A QR code (the QRIS of a pending sale).
    Qr(String),
}

fn center(text: impl Into<String>, bold: bool) -> Line {
    Line::Center {
        text: text.into(),
        bold,
    }
}

fn text(t: impl Into<String>, indent: usize) -> Line {
    Line::Text {
        text: t.into(),
        indent,
    }
}

fn pair(left: impl Into<String>, right: impl Into<String>, bold: bool) -> Line {
    Line::Pair {
        left: left.into(),
        right: right.into(),
        bold,
    }
}

fn method_label(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Cash => "Tunai",
        PaymentMethod::Qris => "QRIS",
        PaymentMethod::Card => "Kartu",
        PaymentMethod::Transfer => "Transfer",
        PaymentMethod::Ewallet => "E-wallet",
    }
}

fn local(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string()
}

fn head(store: &Store) -> Vec<Line> {
    let mut lines = vec![center(store.name.clone(), true)];
    if !store.address.trim().is_empty() {
        lines.push(center(store.address.clone(), false));
    }
    if !store.phone.trim().is_empty() {
        lines.push(center(format!("Telp {}", store.phone), false));
    }
    lines.push(Line::Rule);
    lines
}

/// A sale's receipt, as lines.
pub fn sale_lines(sale: &Sale, store: &Store) -> Vec<Line> {
    let mut lines = head(store);
    lines.push(pair("No", sale.transaction_no.clone(), false));
    lines.push(pair("Waktu", local(sale.occurred_at, store.tz), false));
    lines.push(pair("Kasir", sale.cashier.display_name(), false));
    if !sale.customer_name.trim().is_empty() {
        lines.push(pair("Pelanggan", sale.customer_name.clone(), false));
    }
    lines.push(Line::Rule);
    for l in &sale.items {
        lines.push(text(l.product_name.clone(), 0));
        lines.push(pair(
            format!("  {} x {}", l.quantity, rupiah(l.unit_price.amount())),
            rupiah(l.line_total.amount()),
            false,
        ));
        if !l.note.trim().is_empty() {
            lines.push(text(format!("({})", l.note.trim()), 2));
        }
    }
    lines.push(Line::Rule);
    lines.push(pair("Subtotal", rupiah(sale.subtotal.amount()), false));
    if !sale.discount.amount().is_zero() {
        lines.push(pair("Diskon", rupiah(-sale.discount.amount()), false));
    }
    if !sale.tax.amount().is_zero() {
        lines.push(pair("Pajak", rupiah(sale.tax.amount()), false));
    }
    if !sale.takeaway_charge.amount().is_zero() {
        lines.push(pair(
            "Biaya bungkus",
            rupiah(sale.takeaway_charge.amount()),
            false,
        ));
    }
    lines.push(pair("TOTAL", rupiah(sale.total.amount()), true));
    let method = method_label(sale.payment_method);
    match sale.status.as_str() {
        "pending" => {
            lines.push(Line::Rule);
            lines.push(center("BELUM DIBAYAR", true));
            if let Some(qr) = sale.payment.as_ref().and_then(|p| p.qr_string.clone()) {
                lines.push(center(
                    format!("Scan QRIS: {}", rupiah(sale.paid_amount.amount())),
                    false,
                ));
                lines.push(Line::Qr(qr));
            } else if let Some(va) = sale.payment.as_ref().and_then(|p| p.va_number.clone()) {
                lines.push(pair("Virtual account", va, false));
            }
            if let Some(until) = sale.pending_until {
                lines.push(center(
                    format!("Bayar sebelum {}", local(until, store.tz)),
                    false,
                ));
            }
        }
        "expired" | "cancelled" => {
            lines.push(Line::Rule);
            lines.push(center("DIBATALKAN - TIDAK DIBAYAR", true));
        }
        _ => {
            lines.push(pair(method, rupiah(sale.paid_amount.amount()), false));
            if !sale.change_amount.amount().is_zero() {
                lines.push(pair("Kembali", rupiah(sale.change_amount.amount()), false));
            }
        }
    }
    if let Some(refunds) = sale.refunds.as_ref().filter(|r| !r.is_empty()) {
        lines.push(Line::Rule);
        for r in refunds {
            lines.push(pair(
                format!("Refund {}", local(r.created_at, store.tz)),
                rupiah(-r.amount.amount()),
                false,
            ));
        }
        lines.push(pair(
            "Total refund",
            rupiah(-sale.refunded_amount.amount()),
            false,
        ));
    }
    if !store.footer.trim().is_empty() {
        lines.push(Line::Rule);
        lines.push(center(store.footer.clone(), false));
    }
    lines
}

/// A shift report, as lines.
pub fn shift_report_lines(s: &Shift, store: &Store) -> Vec<Line> {
    let r = &s.report;
    let mut lines = head(store);
    lines.push(center("LAPORAN SHIFT", true));
    lines.push(pair("Kasir", s.cashier.display_name(), false));
    lines.push(pair("Buka", local(s.opened_at, store.tz), false));
    if let Some(at) = s.closed_at {
        lines.push(pair("Tutup", local(at, store.tz), false));
    }
    lines.push(Line::Rule);
    lines.push(text("Penjualan", 0));
    for m in &r.by_payment_method {
        if m.transactions > 0 {
            lines.push(pair(
                format!("  {} ({})", method_label(m.payment_method), m.transactions),
                rupiah(m.total.0),
                false,
            ));
        }
    }
    lines.push(pair(
        format!("Refund ({})", r.refunds.count),
        rupiah(-r.refunds.total.0),
        false,
    ));
    lines.push(pair(
        format!("Void ({})", r.voids.count),
        rupiah(r.voids.total.0),
        false,
    ));
    if r.unpaid_cancelled.count > 0 {
        lines.push(pair(
            format!("Tak dibayar ({})", r.unpaid_cancelled.count),
            rupiah(r.unpaid_cancelled.total.0),
            false,
        ));
    }
    lines.push(Line::Rule);
    lines.push(text("Laci kas", 0));
    lines.push(pair("  Modal awal", rupiah(r.opening_cash.amount()), false));
    lines.push(pair("  Penjualan tunai", rupiah(r.cash_sales.0), false));
    lines.push(pair("  Refund tunai", rupiah(-r.cash_refunds.0), false));
    lines.push(pair("  Kas masuk", rupiah(r.pay_ins.0), false));
    lines.push(pair("  Kas keluar", rupiah(-r.pay_outs.0), false));
    lines.push(pair("Seharusnya", rupiah(r.expected_cash.0), true));
    if let (Some(counted), Some(diff)) = (s.counted_cash, s.difference) {
        lines.push(pair("Dihitung", rupiah(counted.amount()), false));
        lines.push(pair("Selisih", rupiah(diff.0), true));
    }
    lines
}

/// Words of `text`, wrapped to `width` characters (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            out.push(word[..width].iter().collect());
            word.drain(..width);
        }
        let word: String = word.into_iter().collect();
        let len = line.chars().count();
        if len == 0 {
            line = word;
        } else if len + 1 + word.chars().count() <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            out.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// A line of laid-out text, with whether it is bold and centred (for the
/// ESC/POS renderer), or a QR.
enum Laid {
    Text {
        text: String,
        bold: bool,
        centred: bool,
    },
    Qr(String),
}

fn lay_out(lines: &[Line], width: usize) -> Vec<Laid> {
    let mut out = Vec::new();
    for line in lines {
        match line {
            Line::Center { text, bold } => {
                for l in wrap(text, width) {
                    let pad = (width - l.chars().count()) / 2;
                    out.push(Laid::Text {
                        text: format!("{}{l}", " ".repeat(pad)),
                        bold: *bold,
                        centred: true,
                    });
                }
            }
            Line::Text { text, indent } => {
                for l in wrap(text, width - indent) {
                    out.push(Laid::Text {
                        text: format!("{}{l}", " ".repeat(*indent)),
                        bold: false,
                        centred: false,
                    });
                }
            }
            Line::Pair { left, right, bold } => {
                let (l, r) = (left.chars().count(), right.chars().count());
                if l + 1 + r <= width {
                    out.push(Laid::Text {
                        text: format!("{left}{}{right}", " ".repeat(width - l - r)),
                        bold: *bold,
                        centred: false,
                    });
                } else {
                    // The label wraps above; the amount keeps its column.
                    for part in wrap(left, width) {
                        out.push(Laid::Text {
                            text: part,
                            bold: *bold,
                            centred: false,
                        });
                    }
                    let r = right.chars().take(width).collect::<String>();
                    out.push(Laid::Text {
                        text: format!("{}{r}", " ".repeat(width - r.chars().count())),
                        bold: *bold,
                        centred: false,
                    });
                }
            }
            Line::Rule => out.push(Laid::Text {
                text: "-".repeat(width),
                bold: false,
                centred: false,
            }),
            Line::Qr(payload) => out.push(Laid::Qr(payload.clone())),
        }
    }
    out
}

/// Plain text for the printer's width; a QR (which text cannot draw) is
/// left to the ESC/POS and HTML forms.
pub fn render_text(lines: &[Line], paper: Paper) -> String {
    let mut out = String::new();
    for l in lay_out(lines, paper.columns()) {
        if let Laid::Text { text, .. } = l {
            out.push_str(text.trim_end());
            out.push('\n');
        }
    }
    out
}

pub fn sale_text(sale: &Sale, store: &Store, paper: Paper) -> String {
    render_text(&sale_lines(sale, store), paper)
}

pub fn shift_text(shift: &Shift, store: &Store, paper: Paper) -> String {
    render_text(&shift_report_lines(shift, store), paper)
}

/// ESC/POS for a thermal printer: initialise, the lines (bold and centred
/// where the layout says; text outside ASCII printed as `?`), the QR as
/// the printer's own QR (GS ( k, model 2, error correction M), feed, cut.
pub fn render_escpos(lines: &[Line], paper: Paper) -> Vec<u8> {
    const ESC: u8 = 0x1B;
    const GS: u8 = 0x1D;
    let mut out = vec![ESC, b'@'];
    for l in lay_out(lines, paper.columns()) {
        match l {
            Laid::Text {
                text,
                bold,
                centred,
            } => {
                if bold {
                    out.extend([ESC, b'E', 1]);
                }
                let printed = if centred {
                    text.trim()
                } else {
                    text.trim_end()
                };
                out.extend([ESC, b'a', u8::from(centred)]);
                out.extend(
                    printed
                        .chars()
                        .map(|c| if c.is_ascii() { c as u8 } else { b'?' }),
                );
                out.push(b'\n');
                if bold {
                    out.extend([ESC, b'E', 0]);
                }
            }
            Laid::Qr(payload) => {
                out.extend([ESC, b'a', 1]);
                // Model 2, module size 6, error correction M.
                out.extend([GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
                out.extend([GS, b'(', b'k', 3, 0, 49, 67, 6]);
                out.extend([GS, b'(', b'k', 3, 0, 49, 69, 49]);
                let data = payload.as_bytes();
                let len = data.len() + 3;
                out.extend([
                    GS,
                    b'(',
                    b'k',
                    (len % 256) as u8,
                    (len / 256) as u8,
                    49,
                    80,
                    48,
                ]);
                out.extend(data);
                out.extend([GS, b'(', b'k', 3, 0, 49, 81, 48]);
                out.push(b'\n');
                out.extend([ESC, b'a', 0]);
            }
        }
    }
    out.extend([ESC, b'd', 3]);
    out.extend([GS, b'V', 66, 0]);
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A receipt page for a phone's browser: the same lines, as HTML, the QR
/// as an inline PNG.
pub fn render_html(lines: &[Line], title: &str) -> String {
    use base64::Engine;
    let mut body = String::new();
    for line in lines {
        match line {
            Line::Center { text, bold } => body.push_str(&format!(
                "<p class=\"c{}\">{}</p>\n",
                if *bold { " b" } else { "" },
                escape(text)
            )),
            Line::Text { text, indent } => body.push_str(&format!(
                "<p class=\"t\" style=\"padding-left:{}ch\">{}</p>\n",
                indent,
                escape(text)
            )),
            Line::Pair { left, right, bold } => body.push_str(&format!(
                "<div class=\"p{}\"><span>{}</span><span>{}</span></div>\n",
                if *bold { " b" } else { "" },
                escape(left.trim_start()),
                escape(right)
            )),
            Line::Rule => body.push_str("<hr>\n"),
            Line::Qr(payload) => {
                if let Ok(png) = crate::payments::qris::png(payload, 6) {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
                    body.push_str(&format!(
                        "<p class=\"c\"><img alt=\"QRIS\" src=\"data:image/png;base64,{b64}\"></p>\n"
                    ));
                }
            }
        }
    }
    format!(
        r#"<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body {{ margin: 0; background: #f2f2f2; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }}
main {{ max-width: 24rem; margin: 1rem auto; background: #fff; padding: 1.25rem 1.25rem 1.5rem; border-radius: .5rem; box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
p {{ margin: .15rem 0; }}
.c {{ text-align: center; }}
.b {{ font-weight: 700; }}
.p {{ display: flex; justify-content: space-between; gap: 1rem; margin: .1rem 0; }}
.p span:last-child {{ white-space: nowrap; font-variant-numeric: tabular-nums; }}
hr {{ border: 0; border-top: 1px dashed #999; margin: .6rem 0; }}
img {{ width: 14rem; height: 14rem; image-rendering: pixelated; }}
</style>
</head>
<body>
<main>
{body}</main>
</body>
</html>
"#,
        title = escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn rupiah_is_written_the_indonesian_way() {
        let r = |s: &str| rupiah(Decimal::from_str(s).unwrap());
        assert_eq!(r("15000"), "Rp15.000");
        assert_eq!(r("15000.00"), "Rp15.000");
        assert_eq!(r("1500000"), "Rp1.500.000");
        assert_eq!(r("999"), "Rp999");
        assert_eq!(r("0"), "Rp0");
        assert_eq!(r("16927.5"), "Rp16.927,50");
        assert_eq!(r("-1000"), "-Rp1.000");
        assert_eq!(r("123456789012.34"), "Rp123.456.789.012,34");
    }

    #[test]
    fn long_words_and_lines_wrap_to_the_width() {
        assert_eq!(
            wrap("Nasi Goreng Spesial Telur Dadar", 12),
            ["Nasi Goreng", "Spesial", "Telur Dadar"]
        );
        assert_eq!(
            wrap("Supercalifragilistic", 8),
            ["Supercal", "ifragili", "stic"]
        );
        let laid = render_text(
            &[pair(
                "Kopi Susu Gula Aren Ukuran Besar Sekali",
                "Rp1.500.000",
                false,
            )],
            Paper::Mm58,
        );
        assert_eq!(
            laid,
            "Kopi Susu Gula Aren Ukuran Besar\nSekali\n                     Rp1.500.000\n"
        );
    }

    #[test]
    fn escpos_carries_bold_centre_the_qr_and_a_cut() {
        let bytes = render_escpos(
            &[
                center("Toko", true),
                pair("TOTAL", "Rp1.000", false),
                Line::Qr("ABC".into()),
            ],
            Paper::Mm58,
        );
        assert_eq!(&bytes[..2], &[0x1B, b'@']);
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(has(&[0x1B, b'E', 1]), "bold on");
        assert!(has(b"Toko\n"));
        assert!(has(b"TOTAL                    Rp1.000\n"));
        assert!(
            has(&[0x1D, b'(', b'k', 6, 0, 49, 80, 48, b'A', b'B', b'C']),
            "QR data"
        );
        assert!(bytes.ends_with(&[0x1D, b'V', 66, 0]), "cut");
    }
}
