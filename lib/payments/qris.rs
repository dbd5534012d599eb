//! QRIS: Indonesia's EMVCo merchant-presented QR code, from the shop's own
//! printed (static) code to a code for one sale's exact amount.
//!
//! A payload is a string of elements `TTLLV...`: a two-digit tag, a
//! two-digit length, that many characters of value. Templates (tags 26-51
//! for merchant accounts, 62 for additional data) hold elements in their
//! value the same way. The last element is tag 63, the CRC-16/CCITT-FALSE
//! (poly 0x1021, init 0xFFFF) of everything before its four hex digits,
//! "6304" included.
//!
//! Static to dynamic: tag 01 (point of initiation) goes from `11` to `12`,
//! tag 54 (the amount) is set, and the CRC is computed again; every other
//! element stays as printed, in its place (54 goes after 53, the currency).
//!
//! The amount's text: at most 13 characters, above zero, whole rupiah
//! without decimals (`15000`), an amount with cents with two (`15000.50`).
//! Payments charge whole rupiah (payments::charge_for), so in practice the
//! amount has no decimals.

use std::fmt;

use rust_decimal::Decimal;

/// One element of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u8,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrisError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Amount(String),
    #[error("the QR image could not be made: {0}")]
    Image(String),
}

/// One thing wrong with a code the owner tried to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrisFault {
    /// Stable: `not_ascii`, `truncated`, `format`, `not_static`,
    /// `has_amount`, `no_merchant_account`, `category`, `currency`,
    /// `country`, `missing_tag`, `crc_position`, `crc_mismatch`,
    /// `duplicate_tag`, `empty`.
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for QrisFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn fault(code: &'static str, message: impl Into<String>) -> QrisFault {
    QrisFault {
        code,
        message: message.into(),
    }
}

/// CRC-16/CCITT-FALSE, table-free.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b) << 8;
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

/// The four hex digits tag 63 must hold for `before`: everything up to
/// and including "6304".
fn crc_text(before: &str) -> String {
    format!("{:04X}", crc16(before.as_bytes()))
}

/// Splits a payload (or a template's value) into its elements.
pub fn parse(payload: &str) -> Result<Vec<Tlv>, QrisError> {
    if !payload.is_ascii() {
        return Err(QrisError::Malformed(
            "The code has characters a QRIS code cannot hold (only plain ASCII text).".into(),
        ));
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let head = payload.get(at..at + 4).ok_or_else(|| {
            QrisError::Malformed(format!(
                "The code is cut off at character {}: an element needs a 2-digit tag and a 2-digit length.",
                at + 1
            ))
        })?;
        let (tag, len) = head.split_at(2);
        let (Ok(tag), Ok(len)) = (tag.parse::<u8>(), len.parse::<usize>()) else {
            return Err(QrisError::Malformed(format!(
                "At character {} the code should have a 2-digit tag and length, not {head:?}.",
                at + 1
            )));
        };
        if !head.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QrisError::Malformed(format!(
                "At character {} the code should have a 2-digit tag and length, not {head:?}.",
                at + 1
            )));
        }
        let value = payload.get(at + 4..at + 4 + len).ok_or_else(|| {
            QrisError::Malformed(format!(
                "The code is cut off at character {}: tag {tag:02} says {len} characters but only {} follow.",
                at + 1,
                payload.len() - at - 4
            ))
        })?;
        out.push(Tlv {
            tag,
            value: value.to_string(),
        });
        at += 4 + len;
    }
    Ok(out)
}

fn encode(elements: &[Tlv]) -> String {
    elements
        .iter()
        .map(|e| format!("{:02}{:02}{}", e.tag, e.value.len(), e.value))
        .collect()
}

/// A stored, valid static QRIS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticQris {
    payload: String,
    merchant_name: String,
    merchant_city: String,
    nmid: Option<String>,
}

impl StaticQris {
    /// The code as stored (trimmed).
    pub fn payload(&self) -> &str {
        &self.payload
    }
    pub fn merchant_name(&self) -> &str {
        &self.merchant_name
    }
    pub fn merchant_city(&self) -> &str {
        &self.merchant_city
    }
    /// The National Merchant ID: sub-tag 02 of the QRIS template (51).
    pub fn nmid(&self) -> Option<&str> {
        self.nmid.as_deref()
    }
}

/// Checks the code an owner saves, reporting every fault found.
pub fn validate_static(raw: &str) -> Result<StaticQris, Vec<QrisFault>> {
    let payload = raw.trim();
    if payload.is_empty() {
        return Err(vec![fault("empty", "The QRIS code is empty.")]);
    }
    let elements = parse(payload).map_err(|e| {
        let code = if payload.is_ascii() {
            "truncated"
        } else {
            "not_ascii"
        };
        vec![fault(code, e.to_string())]
    })?;
    let mut faults = Vec::new();
    let get = |tag: u8| {
        elements
            .iter()
            .find(|e| e.tag == tag)
            .map(|e| e.value.as_str())
    };

    let mut seen = std::collections::BTreeSet::new();
    for e in &elements {
        if !seen.insert(e.tag) {
            faults.push(fault(
                "duplicate_tag",
                format!(
                    "Tag {:02} appears twice; a QRIS code has each tag once.",
                    e.tag
                ),
            ));
        }
    }
    match elements.first() {
        Some(Tlv { tag: 0, value }) if value == "01" => {}
        _ => faults.push(fault(
            "format",
            "A QRIS code starts with its format indicator (tag 00, value 01); this one does not: is it a QRIS code?",
        )),
    }
    match get(1) {
        Some("11") => {}
        Some("12") => faults.push(fault(
            "not_static",
            "This is a dynamic code, made for one payment (tag 01 is 12): store the shop's printed static QRIS instead.",
        )),
        _ => faults.push(fault(
            "not_static",
            "The point of initiation (tag 01) must be 11, a static code.",
        )),
    }
    if get(54).is_some() {
        faults.push(fault(
            "has_amount",
            "The code carries a fixed amount (tag 54): store the shop's printed static QRIS, which has none.",
        ));
    }
    if !elements.iter().any(|e| (26..=51).contains(&e.tag)) {
        faults.push(fault(
            "no_merchant_account",
            "The code names no merchant account (tags 26 to 51): it cannot receive payments.",
        ));
    }
    match get(52) {
        Some(mcc) if mcc.len() == 4 && mcc.bytes().all(|b| b.is_ascii_digit()) => {}
        Some(mcc) => faults.push(fault(
            "category",
            format!("The merchant category code (tag 52) must be 4 digits, not {mcc:?}."),
        )),
        None => faults.push(fault(
            "missing_tag",
            "The merchant category code (tag 52) is missing.",
        )),
    }
    match get(53) {
        Some("360") => {}
        Some(other) => faults.push(fault(
            "currency",
            format!("The currency (tag 53) is {other}; a QRIS code for rupiah has 360."),
        )),
        None => faults.push(fault(
            "missing_tag",
            "The currency (tag 53, 360 for rupiah) is missing.",
        )),
    }
    match get(58) {
        Some("ID") => {}
        Some(other) => faults.push(fault(
            "country",
            format!("The country (tag 58) is {other}; a QRIS code has ID (Indonesia)."),
        )),
        None => faults.push(fault(
            "missing_tag",
            "The country code (tag 58, ID) is missing.",
        )),
    }
    let merchant_name = get(59).map(str::trim).unwrap_or_default().to_string();
    if merchant_name.is_empty() {
        faults.push(fault(
            "missing_tag",
            "The merchant name (tag 59) is missing.",
        ));
    }
    let merchant_city = get(60).map(str::trim).unwrap_or_default().to_string();
    if merchant_city.is_empty() {
        faults.push(fault(
            "missing_tag",
            "The merchant city (tag 60) is missing.",
        ));
    }
    match elements.last() {
        Some(Tlv { tag: 63, value }) => {
            let before = &payload[..payload.len() - value.len()];
            let want = crc_text(before);
            if value.len() != 4 || !value.to_ascii_uppercase().eq(&want) {
                faults.push(fault(
                    "crc_mismatch",
                    format!(
                        "The checksum (tag 63) is {value} but the code's contents give {want}: the code was copied wrongly."
                    ),
                ));
            }
        }
        _ if get(63).is_some() => faults.push(fault(
            "crc_position",
            "The checksum (tag 63) must be the code's last element.",
        )),
        _ => faults.push(fault("missing_tag", "The checksum (tag 63) is missing.")),
    }
    let nmid = get(51)
        .and_then(|t| parse(t).ok())
        .and_then(|sub| sub.into_iter().find(|e| e.tag == 2).map(|e| e.value));
    if faults.is_empty() {
        Ok(StaticQris {
            payload: payload.to_string(),
            merchant_name,
            merchant_city,
            nmid,
        })
    } else {
        Err(faults)
    }
}

/// The amount as tag 54 writes it (see the module's rule).
pub fn amount_text(amount: Decimal) -> Result<String, QrisError> {
    if amount <= Decimal::ZERO {
        return Err(QrisError::Amount(format!(
            "A QRIS amount must be above zero, not {amount}."
        )));
    }
    let n = amount.normalize();
    if n.scale() > 2 {
        return Err(QrisError::Amount(format!(
            "A QRIS amount has at most two decimals, not {amount}."
        )));
    }
    let text = if n.scale() == 0 {
        n.to_string()
    } else {
        let mut two = n;
        two.rescale(2);
        two.to_string()
    };
    if text.len() > 13 {
        return Err(QrisError::Amount(format!(
            "{text} is too long for a QRIS amount (13 characters at most)."
        )));
    }
    Ok(text)
}

/// The code for one payment of `amount`, from a valid static code.
pub fn dynamic(static_payload: &str, amount: Decimal) -> Result<String, QrisError> {
    let amount = amount_text(amount)?;
    let mut elements = parse(static_payload.trim())?;
    elements.retain(|e| e.tag != 63 && e.tag != 54);
    for e in &mut elements {
        if e.tag == 1 {
            e.value = "12".into();
        }
    }
    let at = elements
        .iter()
        .position(|e| e.tag == 53)
        .map(|i| i + 1)
        .or_else(|| elements.iter().position(|e| e.tag > 54))
        .unwrap_or(elements.len());
    elements.insert(
        at,
        Tlv {
            tag: 54,
            value: amount,
        },
    );
    let body = format!("{}6304", encode(&elements));
    let crc = crc_text(&body);
    Ok(body + &crc)
}

/// Tag 54 of a payload, read back.
pub fn amount_of(payload: &str) -> Option<Decimal> {
    parse(payload)
        .ok()?
        .into_iter()
        .find(|e| e.tag == 54)
        .and_then(|e| e.value.parse().ok())
}

/// The QR as a black-on-white 8-bit greyscale PNG: error correction M, a
/// quiet zone of 4 modules, `scale` pixels per module.
pub fn png(payload: &str, scale: u32) -> Result<Vec<u8>, QrisError> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(|e| QrisError::Image(e.to_string()))?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let scale = scale.max(1);
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    let mut pixels = vec![255u8; (side * side) as usize];
    for y in 0..modules {
        for x in 0..modules {
            if colors[(y * modules + x) as usize] == qrcode::Color::Dark {
                for dy in 0..scale {
                    let row = ((quiet + y) * scale + dy) * side;
                    let start = (row + (quiet + x) * scale) as usize;
                    pixels[start..start + scale as usize].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| QrisError::Image(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| QrisError::Image(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// A static QRIS built for these tests; its CRC, 52C3, was computed
    /// apart from this code, with Python:
    /// `binascii.crc_hqx(payload_up_to_6304, 0xFFFF)`.
    const STATIC: &str = "00020101021126570011ID.DANA.WWW011893600915302259148102090225914810303UMI51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605802ID5920Warung Sate Pak Budi6007JAKARTA61051234062070703A016304";

    fn with_python_crc() -> String {
        format!("{STATIC}{}", PYTHON_CRC)
    }
    const PYTHON_CRC: &str = "52C3";

    #[test]
    fn the_crc_is_ccitt_false() {
        assert_eq!(crc16(b"123456789"), 0x29B1, "the standard check value");
        assert_eq!(crc_text(STATIC), PYTHON_CRC);
    }

    #[test]
    fn a_printed_code_validates_and_names_its_merchant() {
        let q = validate_static(&format!(" {}\n", with_python_crc())).unwrap();
        assert_eq!(q.payload(), with_python_crc());
        assert_eq!(q.merchant_name(), "Warung Sate Pak Budi");
        assert_eq!(q.merchant_city(), "JAKARTA");
        assert_eq!(q.nmid(), Some("ID1020017611473"));
    }

    fn codes(raw: &str) -> Vec<&'static str> {
        validate_static(raw)
            .unwrap_err()
            .into_iter()
            .map(|f| f.code)
            .collect()
    }

    /// `STATIC` with one element replaced (or dropped: None), CRC redone.
    fn edited(tag: u8, value: Option<&str>) -> String {
        let mut elements = parse(&with_python_crc()).unwrap();
        elements.retain(|e| e.tag != 63);
        match value {
            Some(v) => elements
                .iter_mut()
                .filter(|e| e.tag == tag)
                .for_each(|e| e.value = v.into()),
            None => elements.retain(|e| e.tag != tag),
        }
        let body = format!("{}6304", encode(&elements));
        let crc = crc_text(&body);
        body + &crc
    }

    #[test]
    fn each_fault_is_named() {
        let good = with_python_crc();
        assert_eq!(
            codes(&format!("{}0000", &good[..good.len() - 4])),
            ["crc_mismatch"]
        );
        assert_eq!(codes(&edited(58, None)), ["missing_tag"]);
        assert_eq!(codes(&edited(59, None)), ["missing_tag"]);
        assert_eq!(codes(&edited(53, None)), ["missing_tag"]);
        assert_eq!(codes(&edited(53, Some("840"))), ["currency"]);
        assert_eq!(codes(&edited(58, Some("SG"))), ["country"]);
        assert!(
            validate_static(&edited(26, None)).is_ok(),
            "tag 51 alone is a merchant account"
        );
        assert_eq!(codes(&edited(1, Some("12"))), ["not_static"]);
        assert_eq!(codes(&good[..50]), ["truncated"]);
        assert_eq!(codes("hello"), ["truncated"]);
        assert_eq!(codes(""), ["empty"]);
        assert_eq!(codes("0002010102ñ1"), ["not_ascii"]);
        // Tag 63 not last.
        let body = &good[..good.len() - 8];
        let moved = format!("6304{}{body}", &good[good.len() - 4..]);
        assert!(
            codes(&moved).contains(&"crc_position"),
            "{:?}",
            codes(&moved)
        );
        // Already dynamic, with an amount.
        let dynamic_code = dynamic(&good, Decimal::from(5000)).unwrap();
        let c = codes(&dynamic_code);
        assert!(
            c.contains(&"not_static") && c.contains(&"has_amount"),
            "{c:?}"
        );
        // Every message says something.
        for f in validate_static(&edited(53, Some("840"))).unwrap_err() {
            assert!(f.message.contains("840"), "{f}");
        }
    }

    #[test]
    fn a_code_without_a_merchant_account_is_refused() {
        let mut elements = parse(&with_python_crc()).unwrap();
        elements.retain(|e| !(26..=51).contains(&e.tag) && e.tag != 63);
        let body = format!("{}6304", encode(&elements));
        let crc = crc_text(&body);
        assert_eq!(codes(&(body + &crc)), ["no_merchant_account"]);
    }

    /// A second reader of the payload, written apart from `parse`.
    fn read(payload: &str) -> Vec<(String, String)> {
        let b = payload.as_bytes();
        let mut i = 0;
        let mut out = Vec::new();
        while i < b.len() {
            let tag = std::str::from_utf8(&b[i..i + 2]).unwrap().to_string();
            let len = (b[i + 2] - b'0') as usize * 10 + (b[i + 3] - b'0') as usize;
            out.push((tag, payload[i + 4..i + 4 + len].to_string()));
            i += 4 + len;
        }
        out
    }

    #[test]
    fn the_dynamic_code_carries_the_amount_and_a_fresh_crc() {
        let good = with_python_crc();
        // CRCs of the dynamic payloads, computed apart with Python from
        // the elements written out by hand.
        for (amount, text, python_crc) in [
            ("15000", "15000", "A37C"),
            ("17205.50", "17205.50", "3FBE"),
            ("17205.5", "17205.50", "3FBE"),
            ("1", "1", "87C5"),
            ("99999999.99", "99999999.99", "A553"),
        ] {
            let code = dynamic(&good, Decimal::from_str(amount).unwrap()).unwrap();
            let fields = read(&code);
            let get = |t: &str| fields.iter().find(|(k, _)| k == t).map(|(_, v)| v.clone());
            assert_eq!(get("01").as_deref(), Some("12"));
            assert_eq!(get("54").as_deref(), Some(text));
            assert_eq!(fields.last().unwrap().0, "63");
            let pos53 = fields.iter().position(|(k, _)| k == "53").unwrap();
            assert_eq!(fields[pos53 + 1].0, "54", "after the currency");
            for (k, v) in read(&good) {
                if k != "01" && k != "63" {
                    assert_eq!(get(&k), Some(v), "tag {k} kept");
                }
            }
            let crc = &code[code.len() - 4..];
            assert_eq!(crc, crc_text(&code[..code.len() - 4]));
            assert_eq!(crc, python_crc, "{amount}");
            assert_eq!(amount_of(&code), Some(Decimal::from_str(amount).unwrap()));
        }
        for bad in ["0", "-5", "1.005", "12345678901234"] {
            assert!(
                dynamic(&good, Decimal::from_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_png_decodes_back_to_the_payload() {
        let code = dynamic(&with_python_crc(), Decimal::from(19980)).unwrap();
        let bytes = png(&code, 4).unwrap();
        let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, text) = grids[0].decode().unwrap();
        assert_eq!(text, code);
        assert_eq!(
            read(&text).iter().find(|(k, _)| k == "54").unwrap().1,
            "19980"
        );
    }
}
