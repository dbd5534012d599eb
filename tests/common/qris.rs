//! QRIS on the test side, written apart from lib/payments/qris.rs so that a
//! bug there cannot hide itself: a static code builder, a TLV decoder and a
//! bitwise CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).

/// CRC-16/CCITT-FALSE, bit by bit.
pub fn crc16(data: &[u8]) -> u16 {
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

pub fn tlv(tag: &str, value: &str) -> String {
    format!("{tag}{:02}{value}", value.len())
}

/// Appends tag 63 with the CRC of everything before it (its "6304" too).
pub fn with_crc(body: &str) -> String {
    let signed = format!("{body}6304");
    format!("{signed}{:04X}", crc16(signed.as_bytes()))
}

/// A shop's printed, static QRIS, as Bank Indonesia's standard lays it out.
pub fn static_qris(merchant: &str) -> String {
    let body = [
        tlv("00", "01"),
        tlv("01", "11"),
        tlv(
            "26",
            &[
                tlv("00", "ID.CO.SHOPEE.WWW"),
                tlv("01", "936009180000012345"),
                tlv("02", "000012345"),
                tlv("03", "UMI"),
            ]
            .concat(),
        ),
        tlv(
            "51",
            &[
                tlv("00", "ID.CO.QRIS.WWW"),
                tlv("02", "ID1020017611473"),
                tlv("03", "UMI"),
            ]
            .concat(),
        ),
        tlv("52", "5812"),
        tlv("53", "360"),
        tlv("58", "ID"),
        tlv("59", merchant),
        tlv("60", "JAKARTA"),
        tlv("61", "12345"),
        tlv("62", &tlv("07", "A01")),
    ]
    .concat();
    with_crc(&body)
}

/// `payload` with element `tag` set to `value` (or dropped: None), the CRC
/// computed again.
pub fn edited(payload: &str, tag: &str, value: Option<&str>) -> String {
    let body: String = decode(payload)
        .into_iter()
        .filter(|(t, _)| t != "63" && (t != tag || value.is_some()))
        .map(|(t, v)| {
            if t == tag {
                tlv(&t, value.unwrap())
            } else {
                tlv(&t, &v)
            }
        })
        .collect();
    with_crc(&body)
}

/// Top-level elements, in order; panics on a malformed payload.
pub fn decode(payload: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "truncated element in {payload}");
        let tag = &rest[..2];
        let len: usize = rest[2..4].parse().expect("a two-digit length");
        assert!(rest.len() >= 4 + len, "value cut off in {payload}");
        out.push((tag.to_string(), rest[4..4 + len].to_string()));
        rest = &rest[4 + len..];
    }
    out
}

pub fn field(payload: &str, tag: &str) -> Option<String> {
    decode(payload)
        .into_iter()
        .find(|(t, _)| t == tag)
        .map(|(_, v)| v)
}

/// Whether tag 63 is last and holds the CRC of the rest.
pub fn crc_ok(payload: &str) -> bool {
    let Some(last) = decode(payload).pop() else {
        return false;
    };
    let body = &payload[..payload.len() - 4];
    last.0 == "63" && last.1 == format!("{:04X}", crc16(body.as_bytes()))
}
