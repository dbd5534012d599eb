//! QRIS (Indonesia's EMVCo merchant-presented QR) payloads: parsing, validation
//! of a shop's static code, making a dynamic code for one sale, and PNG rendering.
//!
//! A payload is a flat list of TLV elements: a 2-digit numeric tag, a 2-digit
//! decimal length, then exactly that many (ASCII) characters of value. Tags
//! 26..=51 (merchant account information) and 62 (additional data) are
//! templates whose value is itself a TLV list. The relevant rules:
//!
//! * `00` payload format indicator, first, `"01"`; `01` point of initiation,
//!   `"11"` static (printed sticker, any amount) or `"12"` dynamic (one payment).
//! * at least one merchant account template in 26..=51 (QRIS: 51 holds
//!   `ID.CO.QRIS.WWW` and the National Merchant ID in sub-tag 02).
//! * `52` merchant category (4 digits), `53` currency (`"360"`, rupiah),
//!   `54` amount (dynamic codes only), `58` country (`"ID"`), `59` merchant
//!   name, `60` merchant city, `61` postal code, `62` additional data.
//! * `63` CRC, always the last element, length 4: CRC-16/CCITT-FALSE (poly
//!   0x1021, init 0xFFFF) over everything up to and including `"6304"`,
//!   written as 4 uppercase hex digits.
//! * the whole payload is at most 512 characters.
//!
//! [`validate_static`] checks what a shop owner saves and reports every fault
//! found; [`dynamic`] turns a valid static payload into a dynamic one for an
//! exact amount (see [`amount_text`] for how amounts are written); [`png`]
//! draws the QR code.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use rust_decimal::Decimal;

/// Longest payload EMVCo allows, in characters.
pub const MAX_PAYLOAD_LEN: usize = 512;
/// Longest amount text (tag 54) EMVCo allows, in characters.
pub const MAX_AMOUNT_LEN: usize = 13;
/// Largest pixels-per-module accepted by [`png`].
pub const MAX_PNG_SCALE: u32 = 32;
/// Quiet zone (white border) around the QR code, in modules.
pub const QUIET_ZONE: usize = 4;

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);

const TAG_FORMAT: u8 = 0;
const TAG_INITIATION: u8 = 1;
const TAG_CATEGORY: u8 = 52;
const TAG_CURRENCY: u8 = 53;
const TAG_AMOUNT: u8 = 54;
const TAG_COUNTRY: u8 = 58;
const TAG_NAME: u8 = 59;
const TAG_CITY: u8 = 60;
const TAG_POSTAL: u8 = 61;
const TAG_ADDITIONAL: u8 = 62;
const TAG_CRC: u8 = 63;
const TAG_QRIS_NATIONAL: u8 = 51;

/// One TLV element of a payload (or of a template's value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// Tag, 0..=99 (written as 2 digits).
    pub tag: u8,
    /// Value, ASCII, at most 99 characters.
    pub value: String,
}

impl Tlv {
    /// Whether this tag holds a template (nested TLVs): 26..=51 or 62.
    pub fn is_template(&self) -> bool {
        matches!(self.tag, 26..=51 | TAG_ADDITIONAL)
    }

    /// Parse the value as nested TLVs (for templates). Character positions in
    /// errors count from the start of the value. An empty value gives no elements.
    pub fn children(&self) -> Result<Vec<Tlv>, QrisError> {
        parse_elements(&self.value)
    }

    fn encode_into(&self, out: &mut String) {
        // Values come from parsing (<= 99 chars) or from this module (amount, CRC).
        debug_assert!(self.value.len() <= 99);
        let _ = write!(out, "{:02}{:02}{}", self.tag, self.value.len(), self.value);
    }
}

/// Errors from parsing, building or rendering payloads.
#[derive(Debug, thiserror::Error)]
pub enum QrisError {
    #[error("The code is empty.")]
    Empty,
    #[error(
        "Character {position} ({found:?}) is not allowed in a QRIS code: only plain letters, digits and punctuation are."
    )]
    BadCharacter { position: usize, found: char },
    #[error(
        "The code is damaged at character {position}: expected a 2-digit tag but found {found:?}."
    )]
    BadTag { position: usize, found: String },
    #[error(
        "The code is damaged at character {position}: tag {tag:02} should be followed by a 2-digit length but found {found:?}."
    )]
    BadLength {
        position: usize,
        tag: u8,
        found: String,
    },
    #[error(
        "The code is cut off at character {position}: an element starts there but only {remaining} character(s) follow, too few for its tag and length."
    )]
    TruncatedHeader { position: usize, remaining: usize },
    #[error(
        "The code is cut off at character {position}: tag {tag:02} says {declared} characters but only {available} follow."
    )]
    TruncatedValue {
        position: usize,
        tag: u8,
        declared: usize,
        available: usize,
    },
    #[error("The stored QRIS code is not a valid static code: {}", join_faults(.0))]
    InvalidStatic(Vec<QrisFault>),
    #[error("The amount must be more than zero, got {0}.")]
    AmountNotPositive(Decimal),
    #[error("The amount {0} has more than 2 decimal places.")]
    AmountTooPrecise(Decimal),
    #[error("The amount {text} is {} characters long; at most 13 are allowed.", .text.len())]
    AmountTooLong { text: String },
    #[error("The code would be {0} characters long; at most 512 are allowed.")]
    TooLong(usize),
    #[error("The PNG scale must be 1..=32 pixels per module, got {0}.")]
    BadScale(u32),
    #[error("Could not build the QR code: {0}")]
    QrCode(#[from] qrcode::types::QrError),
    #[error("Could not write the PNG: {0}")]
    Png(#[from] png::EncodingError),
}

fn join_faults(faults: &[QrisFault]) -> String {
    faults
        .iter()
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One problem found by [`validate_static`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrisFault {
    /// Stable short code, e.g. `"crc_mismatch"`, `"missing_tag"`, `"not_static"`.
    ///
    /// Codes: `empty`, `bad_character`, `not_tlv`, `truncated`, `too_long`,
    /// `duplicate_tag`, `missing_tag`, `format_indicator`, `not_static`,
    /// `point_of_initiation`, `amount_present`, `no_merchant_account`,
    /// `merchant_account`, `merchant_category`, `currency`, `country`,
    /// `merchant_name`, `merchant_city`, `additional_data`, `crc_not_last`,
    /// `crc_format`, `crc_mismatch`.
    pub code: &'static str,
    /// The tag concerned, if any.
    pub tag: Option<u8>,
    /// English sentence for the shop owner.
    pub message: String,
}

impl fmt::Display for QrisFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl QrisFault {
    fn new(code: &'static str, tag: Option<u8>, message: impl Into<String>) -> Self {
        QrisFault {
            code,
            tag,
            message: message.into(),
        }
    }
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0).
pub fn crc16(data: &[u8]) -> u16 {
    CRC16.checksum(data)
}

/// Parse a payload into its top-level TLV elements; the whole string must be
/// consumed exactly. Positions in errors are 1-based character numbers.
pub fn parse(payload: &str) -> Result<Vec<Tlv>, QrisError> {
    if payload.is_empty() {
        return Err(QrisError::Empty);
    }
    parse_elements(payload)
}

fn parse_elements(s: &str) -> Result<Vec<Tlv>, QrisError> {
    if let Some((i, c)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii() || c.is_ascii_control())
    {
        return Err(QrisError::BadCharacter {
            position: i + 1,
            found: c,
        });
    }
    // ASCII from here on: byte offsets are character offsets.
    let end = s.len();
    let two_digits = |at: usize| -> Option<u8> {
        let b = &s.as_bytes()[at..at + 2];
        b.iter()
            .all(u8::is_ascii_digit)
            .then(|| (b[0] - b'0') * 10 + (b[1] - b'0'))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < end {
        if end - i < 4 {
            return Err(QrisError::TruncatedHeader {
                position: i + 1,
                remaining: end - i,
            });
        }
        let tag = two_digits(i).ok_or_else(|| QrisError::BadTag {
            position: i + 1,
            found: s[i..i + 2].to_owned(),
        })?;
        let len = usize::from(two_digits(i + 2).ok_or_else(|| QrisError::BadLength {
            position: i + 3,
            tag,
            found: s[i + 2..i + 4].to_owned(),
        })?);
        let start = i + 4;
        if len > end - start {
            return Err(QrisError::TruncatedValue {
                position: end,
                tag,
                declared: len,
                available: end - start,
            });
        }
        out.push(Tlv {
            tag,
            value: s[start..start + len].to_owned(),
        });
        i = start + len;
    }
    Ok(out)
}

fn encode(elements: &[Tlv]) -> String {
    let mut s = String::new();
    for e in elements {
        e.encode_into(&mut s);
    }
    s
}

fn find(elements: &[Tlv], tag: u8) -> Option<&Tlv> {
    elements.iter().find(|e| e.tag == tag)
}

/// A validated static QRIS payload (what is printed on the shop's sticker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticQris {
    payload: String,
    elements: Vec<Tlv>,
    nmid: Option<String>,
}

impl StaticQris {
    /// The normalised payload (surrounding whitespace removed).
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// The top-level elements, in payload order.
    pub fn elements(&self) -> &[Tlv] {
        &self.elements
    }

    /// Value of a top-level tag, if present.
    pub fn get(&self, tag: u8) -> Option<&str> {
        find(&self.elements, tag).map(|e| e.value.as_str())
    }

    /// Merchant name (tag 59), trimmed; never empty after validation.
    pub fn merchant_name(&self) -> &str {
        self.get(TAG_NAME).unwrap_or_default().trim()
    }

    /// Merchant city (tag 60), trimmed; never empty after validation.
    pub fn merchant_city(&self) -> &str {
        self.get(TAG_CITY).unwrap_or_default().trim()
    }

    /// Merchant category code (tag 52), 4 digits.
    pub fn merchant_category(&self) -> &str {
        self.get(TAG_CATEGORY).unwrap_or_default()
    }

    /// Postal code (tag 61), if present.
    pub fn postal_code(&self) -> Option<&str> {
        self.get(TAG_POSTAL)
    }

    /// National Merchant ID: sub-tag 02 of the tag 51 template, e.g. `"ID1020017611473"`.
    pub fn nmid(&self) -> Option<&str> {
        self.nmid.as_deref()
    }

    /// Dynamic payload for exactly `amount`; see [`dynamic`].
    pub fn dynamic(&self, amount: Decimal) -> Result<String, QrisError> {
        build_dynamic(&self.elements, &amount_text(amount)?)
    }
}

impl fmt::Display for StaticQris {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.payload)
    }
}

fn tag_name(tag: u8) -> &'static str {
    match tag {
        TAG_FORMAT => "payload format indicator",
        TAG_INITIATION => "point of initiation method",
        TAG_CATEGORY => "merchant category code",
        TAG_CURRENCY => "currency",
        TAG_COUNTRY => "country code",
        TAG_NAME => "merchant name",
        TAG_CITY => "merchant city",
        TAG_CRC => "checksum (CRC)",
        _ => "element",
    }
}

fn missing(tag: u8) -> QrisFault {
    QrisFault::new(
        "missing_tag",
        Some(tag),
        format!(
            "The {} (tag {tag:02}) is missing: the code is incomplete or is not a QRIS payment code.",
            tag_name(tag)
        ),
    )
}

fn structural_fault(err: &QrisError) -> QrisFault {
    match err {
        QrisError::Empty => QrisFault::new(
            "empty",
            None,
            "The code is empty: paste the text read from the shop's QRIS sticker.",
        ),
        QrisError::BadCharacter { .. } => QrisFault::new("bad_character", None, err.to_string()),
        QrisError::BadTag { position: 1, .. } => QrisFault::new(
            "not_tlv",
            None,
            "This is not a QRIS code: a QRIS code is a single line of text starting with \"000201\".",
        ),
        QrisError::BadTag { .. } => QrisFault::new("not_tlv", None, err.to_string()),
        QrisError::BadLength { tag, .. } => QrisFault::new("not_tlv", Some(*tag), err.to_string()),
        QrisError::TruncatedValue { tag, .. } => {
            QrisFault::new("truncated", Some(*tag), err.to_string())
        }
        _ => QrisFault::new("truncated", None, err.to_string()),
    }
}

fn currency_hint(code: &str) -> &'static str {
    match code {
        "840" => " (US dollar)",
        "702" => " (Singapore dollar)",
        "458" => " (Malaysian ringgit)",
        "764" => " (Thai baht)",
        _ => "",
    }
}

/// Validate the static QRIS payload a shop owner saves (surrounding whitespace
/// is trimmed first). Returns every fault found; a payload whose TLV structure
/// is broken yields just that one fault.
pub fn validate_static(payload: &str) -> Result<StaticQris, Vec<QrisFault>> {
    let payload = payload.trim();
    let elements = parse(payload).map_err(|e| vec![structural_fault(&e)])?;
    let mut faults = Vec::new();

    if payload.len() > MAX_PAYLOAD_LEN {
        faults.push(QrisFault::new(
            "too_long",
            None,
            format!(
                "The code is {} characters long; a QRIS code has at most {MAX_PAYLOAD_LEN}.",
                payload.len()
            ),
        ));
    }

    let mut counts = [0u8; 100];
    for e in &elements {
        let c = &mut counts[usize::from(e.tag)];
        *c = c.saturating_add(1);
        if *c == 2 {
            faults.push(QrisFault::new(
                "duplicate_tag",
                Some(e.tag),
                format!(
                    "Tag {:02} appears more than once; each element may appear only once.",
                    e.tag
                ),
            ));
        }
    }

    match find(&elements, TAG_FORMAT) {
        None => faults.push(missing(TAG_FORMAT)),
        Some(e) => {
            if elements[0].tag != TAG_FORMAT {
                faults.push(QrisFault::new(
                    "format_indicator",
                    Some(TAG_FORMAT),
                    "The payload format indicator (tag 00) must be the first element: the code should start with \"000201\".",
                ));
            }
            if e.value != "01" {
                faults.push(QrisFault::new(
                    "format_indicator",
                    Some(TAG_FORMAT),
                    format!(
                        "The payload format indicator (tag 00) is {:?} but must be \"01\".",
                        e.value
                    ),
                ));
            }
        }
    }

    match find(&elements, TAG_INITIATION).map(|e| e.value.as_str()) {
        None => faults.push(missing(TAG_INITIATION)),
        Some("11") => {}
        Some("12") => faults.push(QrisFault::new(
            "not_static",
            Some(TAG_INITIATION),
            "This is a dynamic code made for one payment (tag 01 is \"12\"). Store the shop's printed static QRIS code instead.",
        )),
        Some(other) => faults.push(QrisFault::new(
            "point_of_initiation",
            Some(TAG_INITIATION),
            format!(
                "The point of initiation (tag 01) is {other:?}; a static QRIS code has \"11\"."
            ),
        )),
    }

    if let Some(e) = find(&elements, TAG_AMOUNT) {
        faults.push(QrisFault::new(
            "amount_present",
            Some(TAG_AMOUNT),
            format!(
                "The code has a fixed amount ({}), so it is for one payment only. Store the shop's printed static QRIS code, which has no amount.",
                e.value
            ),
        ));
    }

    let mut nmid = None;
    let accounts: Vec<&Tlv> = elements
        .iter()
        .filter(|e| (26..=51).contains(&e.tag))
        .collect();
    if accounts.is_empty() {
        faults.push(QrisFault::new(
            "no_merchant_account",
            None,
            "The code has no merchant account information (tags 26 to 51), so no payment could reach the shop. Use the QRIS code from the shop's bank or payment provider.",
        ));
    }
    for acc in accounts {
        match acc.children() {
            Err(err) => faults.push(QrisFault::new(
                "merchant_account",
                Some(acc.tag),
                format!(
                    "The merchant account information in tag {:02} is damaged: {err}",
                    acc.tag
                ),
            )),
            Ok(sub) => {
                if find(&sub, 0).is_none_or(|g| g.value.trim().is_empty()) {
                    faults.push(QrisFault::new(
                        "merchant_account",
                        Some(acc.tag),
                        format!(
                            "The merchant account information in tag {:02} has no identifier (sub-tag 00).",
                            acc.tag
                        ),
                    ));
                }
                if acc.tag == TAG_QRIS_NATIONAL {
                    nmid = find(&sub, 2).map(|e| e.value.clone());
                }
            }
        }
    }

    match find(&elements, TAG_CATEGORY) {
        None => faults.push(missing(TAG_CATEGORY)),
        Some(e) if e.value.len() == 4 && e.value.bytes().all(|b| b.is_ascii_digit()) => {}
        Some(e) => faults.push(QrisFault::new(
            "merchant_category",
            Some(TAG_CATEGORY),
            format!(
                "The merchant category code (tag 52) is {:?} but must be 4 digits.",
                e.value
            ),
        )),
    }

    match find(&elements, TAG_CURRENCY) {
        None => faults.push(missing(TAG_CURRENCY)),
        Some(e) if e.value == "360" => {}
        Some(e) => faults.push(QrisFault::new(
            "currency",
            Some(TAG_CURRENCY),
            format!(
                "The currency (tag 53) is {}{}, but QRIS payments must be in Indonesian rupiah (360).",
                e.value,
                currency_hint(&e.value)
            ),
        )),
    }

    match find(&elements, TAG_COUNTRY) {
        None => faults.push(missing(TAG_COUNTRY)),
        Some(e) if e.value == "ID" => {}
        Some(e) => faults.push(QrisFault::new(
            "country",
            Some(TAG_COUNTRY),
            format!(
                "The country code (tag 58) is {:?} but a QRIS code for Indonesia has \"ID\".",
                e.value
            ),
        )),
    }

    for (tag, code, what) in [
        (TAG_NAME, "merchant_name", "merchant name"),
        (TAG_CITY, "merchant_city", "merchant city"),
    ] {
        match find(&elements, tag) {
            None => faults.push(missing(tag)),
            Some(e) if !e.value.trim().is_empty() => {}
            Some(_) => faults.push(QrisFault::new(
                code,
                Some(tag),
                format!("The {what} (tag {tag}) is empty."),
            )),
        }
    }

    if let Some(e) = find(&elements, TAG_ADDITIONAL)
        && let Err(err) = e.children()
    {
        faults.push(QrisFault::new(
            "additional_data",
            Some(TAG_ADDITIONAL),
            format!("The additional data (tag 62) is damaged: {err}"),
        ));
    }

    match find(&elements, TAG_CRC) {
        None => faults.push(missing(TAG_CRC)),
        Some(_) => {
            // `elements` is non-empty here.
            let last = &elements[elements.len() - 1];
            if last.tag != TAG_CRC {
                faults.push(QrisFault::new(
                    "crc_not_last",
                    Some(TAG_CRC),
                    "The checksum (tag 63) must be the last element of the code: the code was copied or edited wrongly.",
                ));
            } else if last.value.len() != 4 || !last.value.bytes().all(|b| b.is_ascii_hexdigit()) {
                faults.push(QrisFault::new(
                    "crc_format",
                    Some(TAG_CRC),
                    format!(
                        "The checksum (tag 63) is {:?} but must be 4 hexadecimal characters.",
                        last.value
                    ),
                ));
            } else {
                let computed = format!("{:04X}", crc16(&payload.as_bytes()[..payload.len() - 4]));
                if !last.value.eq_ignore_ascii_case(&computed) {
                    faults.push(QrisFault::new(
                        "crc_mismatch",
                        Some(TAG_CRC),
                        format!(
                            "The checksum is {} but the code's contents give {computed}: the code was copied wrongly. Scan the sticker again or copy the whole text.",
                            last.value
                        ),
                    ));
                }
            }
        }
    }

    if faults.is_empty() {
        Ok(StaticQris {
            payload: payload.to_owned(),
            elements,
            nmid,
        })
    } else {
        Err(faults)
    }
}

/// The tag 54 text for `amount`.
///
/// Rule: the amount must be greater than zero, have at most 2 decimal places
/// (trailing zeros do not count) and its text at most 13 characters. Whole
/// rupiah are written without decimals (`15000`, also for `15000.00`); an
/// amount with cents is written with exactly two decimals and `.` as the
/// separator (`17205.5` → `17205.50`). No sign, no thousands separators.
pub fn amount_text(amount: Decimal) -> Result<String, QrisError> {
    if amount <= Decimal::ZERO {
        return Err(QrisError::AmountNotPositive(amount));
    }
    let n = amount.normalize();
    if n.scale() > 2 {
        return Err(QrisError::AmountTooPrecise(amount));
    }
    let text = if n.scale() == 0 {
        n.to_string()
    } else {
        format!("{n:.2}")
    };
    if text.len() > MAX_AMOUNT_LEN {
        return Err(QrisError::AmountTooLong { text });
    }
    Ok(text)
}

/// Make the dynamic payload for one sale of exactly `amount` from a valid
/// static payload (validated with [`validate_static`]; its faults come back
/// as [`QrisError::InvalidStatic`]).
///
/// Tag 01 becomes `"12"`, tag 54 is set to [`amount_text`]`(amount)` (placed
/// right after tag 53, or else before the first tag above 54), the old CRC is
/// dropped and a new tag 63 is appended. All other elements keep their order.
pub fn dynamic(static_payload: &str, amount: Decimal) -> Result<String, QrisError> {
    validate_static(static_payload)
        .map_err(QrisError::InvalidStatic)?
        .dynamic(amount)
}

fn build_dynamic(elements: &[Tlv], amount_text: &str) -> Result<String, QrisError> {
    let mut out: Vec<Tlv> = elements
        .iter()
        .filter(|e| e.tag != TAG_CRC)
        .cloned()
        .collect();

    match out.iter_mut().find(|e| e.tag == TAG_INITIATION) {
        Some(e) => e.value = "12".to_owned(),
        None => {
            let at = out
                .iter()
                .position(|e| e.tag > TAG_INITIATION)
                .unwrap_or(out.len());
            out.insert(
                at,
                Tlv {
                    tag: TAG_INITIATION,
                    value: "12".to_owned(),
                },
            );
        }
    }

    let amount = Tlv {
        tag: TAG_AMOUNT,
        value: amount_text.to_owned(),
    };
    if let Some(p) = out.iter().position(|e| e.tag == TAG_AMOUNT) {
        out[p] = amount;
        let mut first = true;
        out.retain(|e| {
            if e.tag != TAG_AMOUNT {
                return true;
            }
            std::mem::replace(&mut first, false)
        });
    } else {
        let at = match out.iter().position(|e| e.tag == TAG_CURRENCY) {
            Some(p) => p + 1,
            None => out
                .iter()
                .position(|e| e.tag > TAG_AMOUNT)
                .unwrap_or(out.len()),
        };
        out.insert(at, amount);
    }

    let mut s = encode(&out);
    s.push_str("6304");
    let crc = crc16(s.as_bytes());
    let _ = write!(s, "{crc:04X}");
    if s.len() > MAX_PAYLOAD_LEN {
        return Err(QrisError::TooLong(s.len()));
    }
    Ok(s)
}

/// The amount in tag 54, if the payload parses and tag 54 is a well-formed
/// amount (digits with an optional `.` and 1-2 decimals).
pub fn amount_of(payload: &str) -> Option<Decimal> {
    let elements = parse(payload.trim()).ok()?;
    let text = find(&elements, TAG_AMOUNT)?.value.as_str();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match text.split_once('.') {
        None => digits(text),
        Some((whole, frac)) => digits(whole) && digits(frac) && frac.len() <= 2,
    };
    if !ok {
        return None;
    }
    Decimal::from_str(text).ok()
}

/// Render `payload` as a QR code (error correction M, quiet zone of 4 modules)
/// into an 8-bit greyscale PNG, black on white, `scale` pixels per module
/// (1..=32; callers typically use 8).
pub fn png(payload: &str, scale: u32) -> Result<Vec<u8>, QrisError> {
    if scale == 0 || scale > MAX_PNG_SCALE {
        return Err(QrisError::BadScale(scale));
    }
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let scale = scale as usize;
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let x0 = (i % modules + QUIET_ZONE) * scale;
        let y0 = (i / modules + QUIET_ZONE) * scale;
        for y in y0..y0 + scale {
            pixels[y * side + x0..y * side + x0 + scale].fill(0);
        }
    }

    let mut out = Vec::new();
    let side = u32::try_from(side).expect("QR side fits in u32");
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Realistic static QRIS sample. Built and its CRC (9D86) computed with Python:
    /// `"%04X" % binascii.crc_hqx(body.encode() + b"6304", 0xFFFF)`.
    const STATIC: &str = "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605802ID5920Warung Sate Pak Budi6007JAKARTA61051011062070703A0163049D86";

    /// Expected dynamic payloads for STATIC, built independently in Python
    /// (01 -> 12, 54 inserted after 53, CRC via binascii.crc_hqx(..., 0xFFFF)).
    const DYN_15000: &str = "00020101021226680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605405150005802ID5920Warung Sate Pak Budi6007JAKARTA61051011062070703A0163048B6A";
    const DYN_17205_50: &str = "00020101021226680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI520458125303360540817205.505802ID5920Warung Sate Pak Budi6007JAKARTA61051011062070703A0163043538";

    /// Second, independent TLV reader (does not use `parse`).
    fn tlvs(s: &str) -> Vec<(String, String)> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut v = Vec::new();
        while i < b.len() {
            let tag = String::from_utf8(b[i..i + 2].to_vec()).unwrap();
            let len: usize = String::from_utf8(b[i + 2..i + 4].to_vec())
                .unwrap()
                .parse()
                .unwrap();
            let val = String::from_utf8(b[i + 4..i + 4 + len].to_vec()).unwrap();
            v.push((tag, val));
            i += 4 + len;
        }
        assert_eq!(i, b.len(), "independent parser: trailing bytes");
        v
    }

    /// Bitwise CRC-16/CCITT-FALSE, written from the definition.
    fn bitwise_crc(data: &[u8]) -> u16 {
        let mut crc: u16 = 0xFFFF;
        for &byte in data {
            crc ^= u16::from(byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    /// Appends "6304" + the CRC (test-side implementation) to `body`.
    fn with_crc(body: &str) -> String {
        let s = format!("{body}6304");
        format!("{s}{:04X}", bitwise_crc(s.as_bytes()))
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn codes(payload: &str) -> Vec<&'static str> {
        match validate_static(payload) {
            Ok(_) => vec![],
            Err(f) => f.iter().map(|f| f.code).collect(),
        }
    }

    fn faults(payload: &str) -> Vec<QrisFault> {
        validate_static(payload).expect_err("expected faults")
    }

    #[test]
    fn crc_check_value_and_python_values() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
        assert_eq!(bitwise_crc(b"123456789"), 0x29B1);
        // Each literal: python3 -c 'import binascii; print("%04X" % binascii.crc_hqx(b"<payload up to 6304>", 0xFFFF))'
        let cases: [(&str, u16); 4] = [
            (STATIC, 0x9D86),
            (DYN_15000, 0x8B6A),
            (DYN_17205_50, 0x3538),
            // STATIC without tag 58
            (
                "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605920Warung Sate Pak Budi6007JAKARTA61051011062070703A016304BFB1",
                0xBFB1,
            ),
        ];
        for (payload, want) in cases {
            let covered = &payload.as_bytes()[..payload.len() - 4];
            assert_eq!(crc16(covered), want, "{payload}");
            assert_eq!(bitwise_crc(covered), want, "{payload}");
        }
    }

    #[test]
    fn parse_basics() {
        let els = parse("000201010211").unwrap();
        assert_eq!(
            els,
            vec![
                Tlv {
                    tag: 0,
                    value: "01".into()
                },
                Tlv {
                    tag: 1,
                    value: "11".into()
                }
            ]
        );
        assert!(matches!(parse(""), Err(QrisError::Empty)));
        assert!(matches!(
            parse("0002011"),
            Err(QrisError::TruncatedHeader {
                position: 7,
                remaining: 1
            })
        ));
        assert!(matches!(
            parse("0005ab"),
            Err(QrisError::TruncatedValue {
                tag: 0,
                declared: 5,
                available: 2,
                ..
            })
        ));
        assert!(matches!(
            parse("00020101x1"),
            Err(QrisError::BadLength { position: 9, .. })
        ));
        assert!(matches!(
            parse("0002é1"),
            Err(QrisError::BadCharacter { position: 5, .. })
        ));
        let els = parse(STATIC).unwrap();
        let tags: Vec<u8> = els.iter().map(|e| e.tag).collect();
        assert_eq!(tags, vec![0, 1, 26, 51, 52, 53, 58, 59, 60, 61, 62, 63]);
        let t51 = els.iter().find(|e| e.tag == 51).unwrap();
        assert!(t51.is_template());
        let sub = t51.children().unwrap();
        assert_eq!(sub[0].value, "ID.CO.QRIS.WWW");
        assert_eq!(sub[1].value, "ID1020017611473");
        assert_eq!(sub[2].value, "UMI");
    }

    #[test]
    fn valid_static_sample() {
        let q = validate_static(&format!("  \n{STATIC}\r\n ")).expect("valid");
        assert_eq!(q.payload(), STATIC);
        assert_eq!(q.merchant_name(), "Warung Sate Pak Budi");
        assert_eq!(q.merchant_city(), "JAKARTA");
        assert_eq!(q.nmid(), Some("ID1020017611473"));
        assert_eq!(q.merchant_category(), "5812");
        assert_eq!(q.postal_code(), Some("10110"));
    }

    #[test]
    fn fault_wrong_crc() {
        let bad = format!("{}1A2B", &STATIC[..STATIC.len() - 4]);
        let f = faults(&bad);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "crc_mismatch");
        assert!(f[0].message.contains("1A2B"), "{}", f[0]);
        assert!(f[0].message.contains("9D86"), "{}", f[0]);
    }

    #[test]
    fn fault_missing_tags() {
        // Payloads with one tag removed, CRC recomputed in Python (binascii.crc_hqx).
        let no58 = "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605920Warung Sate Pak Budi6007JAKARTA61051011062070703A016304BFB1";
        let no59 = "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605802ID6007JAKARTA61051011062070703A0163048260";
        let no53 = "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI520458125802ID5920Warung Sate Pak Budi6007JAKARTA61051011062070703A0163047750";
        for (payload, tag) in [(no58, 58), (no59, 59), (no53, 53)] {
            let f = faults(payload);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].code, "missing_tag");
            assert_eq!(f[0].tag, Some(tag));
            assert!(f[0].message.contains(&format!("tag {tag}")), "{}", f[0]);
        }
    }

    #[test]
    fn fault_currency_and_country() {
        // CRCs computed in Python (binascii.crc_hqx).
        let usd = "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253038405802ID5920Warung Sate Pak Budi6007JAKARTA61051011062070703A0163043996";
        let sg = "00020101021126680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605802SG5920Warung Sate Pak Budi6007JAKARTA61051011062070703A016304D571";
        assert_eq!(codes(usd), vec!["currency"]);
        assert!(faults(usd)[0].message.contains("840"));
        assert_eq!(codes(sg), vec!["country"]);
        assert!(faults(sg)[0].message.contains("SG"));
    }

    #[test]
    fn reports_every_fault() {
        // Edited without fixing the CRC: three independent faults.
        let bad = STATIC
            .replace("5303360", "5303840")
            .replace("5802ID", "5802SG");
        assert_eq!(codes(&bad), vec!["currency", "country", "crc_mismatch"]);
    }

    #[test]
    fn fault_already_dynamic() {
        let f = faults(DYN_15000);
        let c: Vec<_> = f.iter().map(|f| f.code).collect();
        assert_eq!(c, vec!["not_static", "amount_present"]);
        assert!(f[0].message.contains("static"), "{}", f[0]);
    }

    #[test]
    fn fault_truncated_and_garbage() {
        let cut = &STATIC[..STATIC.find("Warung Sate").unwrap() + "Warung Sate".len()];
        let f = faults(cut);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "truncated");
        assert_eq!(f[0].tag, Some(59));
        assert!(
            f[0].message
                .contains("tag 59 says 20 characters but only 11 follow"),
            "{}",
            f[0]
        );
        assert!(
            f[0].message.contains(&format!("character {}", cut.len())),
            "{}",
            f[0]
        );

        assert_eq!(codes("hello"), vec!["not_tlv"]);
        assert_eq!(codes("   "), vec!["empty"]);
        assert_eq!(
            codes(&STATIC.replace("Sate", "Saté")),
            vec!["bad_character"]
        );
    }

    #[test]
    fn fault_crc_not_last() {
        let moved = STATIC.replace("62070703A0163049D86", "63049D8662070703A01");
        assert_eq!(moved.len(), STATIC.len());
        assert_eq!(codes(&moved), vec!["crc_not_last"]);
    }

    #[test]
    fn fault_duplicate_and_no_account_and_format() {
        let body = &STATIC[..STATIC.len() - 8];
        let dup = with_crc(&body.replace("5802ID", "5802ID5802ID"));
        assert_eq!(codes(&dup), vec!["duplicate_tag"]);

        let no_acc = with_crc(
            &body
                .replace(
                    "26680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI",
                    "",
                )
                .replace("51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI", ""),
        );
        assert_eq!(codes(&no_acc), vec!["no_merchant_account"]);

        let not_first = with_crc(&body.replacen("000201010211", "010211000201", 1));
        assert_eq!(codes(&not_first), vec!["format_indicator"]);

        let bad_mcc = with_crc(&body.replace("52045812", "520458A2"));
        assert_eq!(codes(&bad_mcc), vec!["merchant_category"]);

        let bad_crc_fmt = format!("{}XYZW", &STATIC[..STATIC.len() - 4]);
        assert_eq!(codes(&bad_crc_fmt), vec!["crc_format"]);

        let no_crc = body.to_string();
        assert_eq!(codes(&no_crc), vec!["missing_tag"]);
    }

    #[test]
    fn dynamic_payloads() {
        let static_tlvs = tlvs(STATIC);
        // (amount, expected tag 54 text, expected full payload from Python if computed)
        let cases = [
            ("15000", "15000", Some(DYN_15000)),
            ("15000.00", "15000", Some(DYN_15000)),
            ("17205.50", "17205.50", Some(DYN_17205_50)),
            ("17205.5", "17205.50", Some(DYN_17205_50)),
            // Python: crc_hqx gave E261 for this payload
            (
                "1",
                "1",
                Some(
                    "00020101021226680016ID.CO.TELKOM.WWW011893600899000012345602150001951234567890303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI520458125303360540115802ID5920Warung Sate Pak Budi6007JAKARTA61051011062070703A016304E261",
                ),
            ),
            ("99999999.99", "99999999.99", None),
            ("9999999999999", "9999999999999", None),
        ];
        for (amount, text, expected) in cases {
            let d = dynamic(STATIC, dec(amount)).unwrap();
            let t = tlvs(&d);
            let get = |tag: &str| t.iter().find(|(k, _)| k == tag).map(|(_, v)| v.as_str());
            assert_eq!(get("01"), Some("12"));
            assert_eq!(get("54"), Some(text));
            // 54 right after 53
            let p53 = t.iter().position(|(k, _)| k == "53").unwrap();
            assert_eq!(t[p53 + 1].0, "54");
            // All other tags unchanged and in order
            let others: Vec<_> = t
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "01" | "54" | "63"))
                .collect();
            let static_others: Vec<_> = static_tlvs
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "01" | "63"))
                .collect();
            assert_eq!(others, static_others);
            // 63 last, correct CRC
            let (last_tag, last_val) = t.last().unwrap();
            assert_eq!(last_tag, "63");
            let want = format!("{:04X}", bitwise_crc(&d.as_bytes()[..d.len() - 4]));
            assert_eq!(last_val, &want);
            if let Some(e) = expected {
                assert_eq!(d, e);
            }
            assert_eq!(amount_of(&d), Some(dec(amount)));
        }
        // Python value for 99999999.99: 5F98
        let d = dynamic(STATIC, dec("99999999.99")).unwrap();
        assert!(d.contains("5303360541199999999.995802ID"), "{d}");
        assert!(d.ends_with("63045F98"), "{d}");
    }

    #[test]
    fn dynamic_refuses_bad_amounts() {
        for a in ["0", "0.00", "-1", "-15000"] {
            assert!(
                matches!(
                    dynamic(STATIC, dec(a)),
                    Err(QrisError::AmountNotPositive(_))
                ),
                "{a}"
            );
        }
        assert!(matches!(
            dynamic(STATIC, dec("15000.123")),
            Err(QrisError::AmountTooPrecise(_))
        ));
        for a in ["99999999999999", "10000000000.50"] {
            assert!(
                matches!(
                    dynamic(STATIC, dec(a)),
                    Err(QrisError::AmountTooLong { .. })
                ),
                "{a}"
            );
        }
        // Trailing zeros beyond 2 places are not extra precision.
        assert_eq!(amount_text(dec("15000.100")).unwrap(), "15000.10");
    }

    #[test]
    fn dynamic_refuses_invalid_static() {
        match dynamic(DYN_15000, dec("1000")) {
            Err(QrisError::InvalidStatic(f)) => {
                assert_eq!(f[0].code, "not_static");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            dynamic("hello", dec("1000")),
            Err(QrisError::InvalidStatic(_))
        ));
    }

    #[test]
    fn build_dynamic_replaces_amount_and_orders() {
        // Existing 54 is replaced in place.
        let els = parse(DYN_15000).unwrap();
        let d = build_dynamic(&els, "2000").unwrap();
        let t = tlvs(&d);
        assert_eq!(t.iter().filter(|(k, _)| k == "54").count(), 1);
        let p = t.iter().position(|(k, _)| k == "54").unwrap();
        assert_eq!(t[p - 1].0, "53");
        assert_eq!(t[p].1, "2000");
        assert_eq!(
            &d[d.len() - 4..],
            format!("{:04X}", bitwise_crc(&d.as_bytes()[..d.len() - 4]))
        );
        // Without tag 53: 54 goes before the first tag > 54.
        let els = parse("000201010211520458125802ID").unwrap();
        let d = build_dynamic(&els, "5").unwrap();
        let tags: Vec<_> = tlvs(&d).into_iter().map(|(k, _)| k).collect();
        assert_eq!(tags, vec!["00", "01", "52", "54", "58", "63"]);
    }

    #[test]
    fn amount_of_reads_tag_54() {
        assert_eq!(amount_of(DYN_15000), Some(dec("15000")));
        assert_eq!(amount_of(DYN_17205_50), Some(dec("17205.50")));
        assert_eq!(amount_of(STATIC), None);
        assert_eq!(amount_of("hello"), None);
        assert_eq!(amount_of("54041e10"), None);
        assert_eq!(amount_of("5403-10"), None);
        assert_eq!(amount_of("54031.0"), Some(dec("1.0")));
        assert_eq!(amount_of("54032."), None);
    }

    #[test]
    fn png_round_trip() {
        let d = dynamic(STATIC, dec("17205.50")).unwrap();
        let bytes = png(&d, 8).unwrap();

        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let (w, h) = (info.width as usize, info.height as usize);
        assert_eq!(w, h);
        assert_eq!(w % 8, 0);
        let px = |x: usize, y: usize| buf[y * info.line_size + x];
        // Only black and white; a white quiet zone of 4 modules (32 px) all round.
        assert!(
            buf[..h * info.line_size]
                .iter()
                .all(|&p| p == 0 || p == 255)
        );
        for i in 0..w {
            for q in 0..32 {
                assert_eq!(px(i, q), 255);
                assert_eq!(px(q, i), 255);
                assert_eq!(px(i, h - 1 - q), 255);
                assert_eq!(px(w - 1 - q, i), 255);
            }
        }
        // Top-left finder pattern starts right after the quiet zone.
        assert_eq!(px(32, 32), 0);

        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, px);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, content) = grids[0].decode().unwrap();
        assert_eq!(content, d);
        // Format-info EC bits: M is 0b00.
        assert_eq!(meta.ecc_level, 0);
        assert_eq!(w / 8, meta.version.to_size() + 8);
        let t = tlvs(&content);
        assert_eq!(
            t.iter().find(|(k, _)| k == "54").map(|(_, v)| v.as_str()),
            Some("17205.50")
        );

        assert!(matches!(png(&d, 0), Err(QrisError::BadScale(0))));
        assert!(matches!(png(&d, 33), Err(QrisError::BadScale(33))));
    }
}
