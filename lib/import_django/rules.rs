//! How a Django value becomes ours: pure functions, one per rule, so each
//! rule is tested on its own. The README's "Moving from the Django backend"
//! says the same rules in words.

use std::collections::HashSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::report::Issue;
use crate::sales::checkout::round_money;

/// Our role for a Django `role` (Django never validated it, so anything
/// may be there) and `is_superuser`, with the notice when the rule did more
/// than rename.
pub fn role(django_role: &str, is_superuser: bool) -> (&'static str, Option<(Issue, String)>) {
    let (ours, known) = match django_role.trim().to_lowercase().as_str() {
        "owner" | "admin" => ("owner", true),
        "manager" => ("manager", true),
        "staff" | "cashier" => ("cashier", true),
        _ => ("cashier", false),
    };
    if is_superuser && ours != "owner" {
        return (
            "owner",
            Some((
                Issue::RoleSuperuser,
                format!("role {django_role:?} but a Django superuser: owner"),
            )),
        );
    }
    if !known {
        return (
            ours,
            Some((Issue::RoleUnknown, format!("role {django_role:?}: cashier"))),
        );
    }
    (ours, None)
}

/// Our payment method for Django's, or None when we do not know it.
/// Django's choices over time: `cash`, `card`, `qris`, `ewallet` (0001),
/// `BCA VA` (0005), `bca va` (0006).
pub fn payment_method(django: &str) -> Option<&'static str> {
    let key = normalise(django);
    Some(match key.as_str() {
        "cash" | "tunai" => "cash",
        "qris" => "qris",
        "bca va"
        | "bcava"
        | "va"
        | "virtual account"
        | "bca virtual account"
        | "transfer"
        | "bank transfer"
        | "bca" => "transfer",
        "card" | "debit" | "debit card" | "credit card" | "kartu" => "card",
        "ewallet" | "e wallet" => "ewallet",
        _ => return None,
    })
}

/// Our order type for Django's, or None when we do not know it.
pub fn order_type(django: &str) -> Option<&'static str> {
    Some(match normalise(django).as_str() {
        "dine in" => "dine_in",
        "take away" | "takeaway" => "take_away",
        "delivery" => "delivery",
        _ => return None,
    })
}

/// Lowercase, `_` and `-` as spaces, runs of whitespace as one space.
fn normalise(s: &str) -> String {
    s.to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a Django transaction status makes of the sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Paid: a completed sale; `preparing` when the kitchen is still on it.
    Paid { preparing: bool },
    /// Never paid (pending), or its payment failed or was cancelled.
    Unpaid,
    /// A value Django never had.
    Unknown,
}

pub fn status(django: &str) -> Status {
    match django.trim().to_lowercase().as_str() {
        "completed" => Status::Paid { preparing: false },
        "processing" => Status::Paid { preparing: true },
        "pending" | "cancelled" | "canceled" | "expired" | "failed" => Status::Unpaid,
        _ => Status::Unknown,
    }
}

/// The absolute URL Django's API gave for a stored image (a Cloudinary
/// public id, `media/products/<name>_<6 chars>`), as
/// django-cloudinary-storage renders it: the `media/` prefix added when
/// missing (rows from before Cloudinary hold `products/x.jpg`; then the
/// second value is true), slashes collapsed, the id unquoted and
/// re-escaped as Cloudinary's `smart_escape` does, and the forced version
/// `v1` of ids with a folder.
pub fn image_url(cloud: &str, stored: &str) -> (String, bool) {
    let legacy = !stored.starts_with("media/");
    let id = if legacy {
        format!("media/{stored}")
    } else {
        stored.to_string()
    };
    let escaped = smart_escape(&unquote(&collapse_slashes(&id)));
    (
        format!("https://res.cloudinary.com/{cloud}/image/upload/v1/{escaped}"),
        legacy,
    )
}

/// `re.sub(r'([^:])/+', r'\1/', source)`: a run of slashes after a
/// character other than `:` becomes one slash.
fn collapse_slashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut before_run: Option<char> = None;
    let mut in_run = false;
    let mut last: Option<char> = None;
    for ch in s.chars() {
        if ch == '/' {
            if in_run {
                if before_run.is_some_and(|c| c != ':') {
                    continue;
                }
            } else {
                in_run = true;
                before_run = last;
            }
        } else {
            in_run = false;
        }
        out.push(ch);
        last = Some(ch);
    }
    out
}

/// Percent-decoding, as Python's `unquote` (a bad escape stays as it is).
fn unquote(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII hex digits");
            out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Every byte outside `[A-Za-z0-9_.\-/:]` as `%XX`.
fn smart_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"_.-/:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `TRX-YYYYMMDD-N...` as Django (3 digits) and we (4) number sales: the
/// day and the number. Anything else cannot equal a number of ours.
pub fn parse_number(number: &str) -> Option<(NaiveDate, i64)> {
    let rest = number.strip_prefix("TRX-")?;
    let (day, n) = rest.split_once('-')?;
    if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if n.is_empty() || n.len() > 18 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day = NaiveDate::parse_from_str(day, "%Y%m%d").ok()?;
    Some((day, n.parse().ok()?))
}

/// `base`, or when it is taken, `base` + `suffix`, then `base` + `suffix`
/// + `-2`, `-3`...: the first that is free.
pub fn free_number(base: &str, suffix: &str, taken: &impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    let first = format!("{base}{suffix}");
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|k| format!("{first}-{k}"))
        .find(|n| !taken(n))
        .expect("some number is free")
}

/// `name` when its lowercase is free in `taken`, else `name` + `sep(k)` for
/// the smallest k >= 2 that is; `name` is cut so the result has at most
/// `max` characters.
pub fn free_name(
    name: &str,
    max: usize,
    taken: &HashSet<String>,
    sep: fn(u32) -> String,
) -> String {
    let (whole, _) = clip(name, max);
    if !taken.contains(&whole.to_lowercase()) {
        return whole;
    }
    (2..)
        .map(|k| {
            let tail = sep(k);
            let (head, _) = clip(name, max.saturating_sub(tail.chars().count()));
            format!("{head}{tail}")
        })
        .find(|n| !taken.contains(&n.to_lowercase()))
        .expect("some name is free")
}

/// At most `max` characters; true when something was cut.
pub fn clip(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((at, _)) => (s[..at].to_string(), true),
        None => (s.to_string(), false),
    }
}

/// A username our database takes: whitespace as `_`, at most 150
/// characters; a blank one becomes `django-<first 8 of the user's id>`.
pub fn username(django: &str, id_hint: &str) -> String {
    let fixed: String = django
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    if fixed.trim_matches('_').is_empty() {
        return format!("django-{}", &id_hint[..id_hint.len().min(8)]);
    }
    clip(&fixed, 150).0
}

/// A sale's money as Django stored it (or as we store it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amounts {
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub takeaway: Decimal,
    pub total: Decimal,
    pub paid: Decimal,
    pub change: Decimal,
}

/// [`amounts`]' result: what we store, and what changed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub amounts: Amounts,
    /// Fractions of a cent rounded half-up (`tax 1650.005 -> 1650.01`).
    pub rounded: Vec<String>,
    /// Every other change, with its reason.
    pub adjusted: Vec<String>,
}

/// Django's amounts made to satisfy ours: every amount >= 0,
/// `discount <= subtotal`, `total = subtotal - discount + tax + takeaway`,
/// `paid >= total`, `change = paid - total`.
///
/// The rule keeps the money the customer paid: `paid` stays (a negative one
/// becomes 0), and `total` stays unless the customer paid less than it (then
/// the total is what was paid) or it is negative (0). Then, with subtotal,
/// tax and take-away as Django had them, the discount is whatever makes the
/// sum right. When no discount between 0 and the subtotal can: a total
/// above subtotal + tax + take-away raises the subtotal (no discount); a
/// total below tax + take-away gives the whole subtotal as discount and
/// lowers the tax, then the take-away charge. The change is paid - total.
pub fn amounts(django: &Amounts) -> Reconciled {
    let mut rounded = Vec::new();
    let mut round = |name: &str, v: Decimal| {
        let r = round_money(v);
        if r != v {
            rounded.push(format!("{name} {v} -> {r}"));
        }
        r
    };
    let start = Amounts {
        subtotal: round("subtotal", django.subtotal),
        discount: round("discount", django.discount),
        tax: round("tax", django.tax),
        takeaway: round("takeaway_charge", django.takeaway),
        total: round("total", django.total),
        paid: round("paid_amount", django.paid),
        change: round("change_amount", django.change),
    };

    let mut reasons = Vec::new();
    let mut a = start;
    for (name, v) in [
        ("subtotal", &mut a.subtotal),
        ("discount", &mut a.discount),
        ("tax", &mut a.tax),
        ("takeaway_charge", &mut a.takeaway),
        ("total", &mut a.total),
        ("paid_amount", &mut a.paid),
    ] {
        if v.is_sign_negative() && !v.is_zero() {
            reasons.push(format!("{name} {v:.2} is negative: 0"));
            *v = Decimal::ZERO;
        }
    }
    if a.paid < a.total {
        reasons.push(format!(
            "paid {:.2} is less than the total {:.2}: the total is what was paid",
            a.paid, a.total
        ));
        a.total = a.paid;
    }
    let discount = a.subtotal + a.tax + a.takeaway - a.total;
    if discount.is_sign_negative() && !discount.is_zero() {
        a.discount = Decimal::ZERO;
        a.subtotal = a.total - a.tax - a.takeaway;
    } else if discount > a.subtotal {
        a.discount = a.subtotal;
        a.tax = a.total - a.takeaway;
        if a.tax.is_sign_negative() && !a.tax.is_zero() {
            a.tax = Decimal::ZERO;
            a.takeaway = a.total;
        }
    } else {
        a.discount = discount;
    }
    a.change = a.paid - a.total;

    let mut adjusted = Vec::new();
    if !reasons.is_empty() || a != start {
        let sum_off = start.subtotal - start.discount + start.tax + start.takeaway != start.total;
        if sum_off {
            reasons.push(format!(
                "total {:.2} is not subtotal {:.2} - discount {:.2} + tax {:.2} + take-away {:.2}",
                start.total, start.subtotal, start.discount, start.tax, start.takeaway
            ));
        }
        adjusted.extend(reasons);
        for (name, before, after) in [
            ("subtotal", start.subtotal, a.subtotal),
            ("discount", start.discount, a.discount),
            ("tax", start.tax, a.tax),
            ("takeaway_charge", start.takeaway, a.takeaway),
            ("total", start.total, a.total),
            ("paid_amount", start.paid, a.paid),
            ("change_amount", start.change, a.change),
        ] {
            if before != after {
                adjusted.push(format!("{name} {before:.2} -> {after:.2}"));
            }
        }
    }
    Reconciled {
        amounts: a,
        rounded,
        adjusted,
    }
}

/// One Django line made to satisfy ours: `Err` (with the reason) when it
/// has no units; else the unit price (>= 0, in cents), the line total
/// (price x quantity) and what changed.
pub fn line(quantity: i32, price: Decimal, subtotal: Decimal) -> Result<LineAmounts, String> {
    if quantity <= 0 {
        return Err(format!(
            "quantity {quantity} x {price:.2} = {:.2}",
            price * Decimal::from(quantity)
        ));
    }
    let mut notes = Vec::new();
    let mut unit = round_money(price);
    if unit != price {
        notes.push((Issue::CentsRounded, format!("price {price} -> {unit}")));
    }
    if unit.is_sign_negative() && !unit.is_zero() {
        notes.push((Issue::NegativeAmount, format!("price {unit:.2} -> 0.00")));
        unit = Decimal::ZERO;
    }
    let total = unit * Decimal::from(quantity);
    if total != subtotal {
        notes.push((
            Issue::LineTotalFixed,
            format!("subtotal {subtotal:.2} -> {total:.2} ({quantity} x {unit:.2})"),
        ));
    }
    Ok(LineAmounts {
        unit_price: unit,
        total,
        notes,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAmounts {
    pub unit_price: Decimal,
    pub total: Decimal,
    pub notes: Vec<(Issue, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn am(s: &str, di: &str, t: &str, k: &str, total: &str, p: &str, c: &str) -> Amounts {
        Amounts {
            subtotal: d(s),
            discount: d(di),
            tax: d(t),
            takeaway: d(k),
            total: d(total),
            paid: d(p),
            change: d(c),
        }
    }

    fn holds(a: &Amounts) {
        let zero = Decimal::ZERO;
        assert!(
            a.subtotal >= zero && a.discount >= zero && a.tax >= zero,
            "{a:?}"
        );
        assert!(a.takeaway >= zero && a.total >= zero, "{a:?}");
        assert!(a.discount <= a.subtotal, "{a:?}");
        assert_eq!(
            a.total,
            a.subtotal - a.discount + a.tax + a.takeaway,
            "{a:?}"
        );
        assert!(a.paid >= a.total, "{a:?}");
        assert_eq!(a.change, a.paid - a.total, "{a:?}");
        assert!(a.subtotal.scale() <= 2 && a.total.scale() <= 2, "{a:?}");
    }

    #[test]
    fn roles_map_as_documented() {
        assert_eq!(role("owner", false).0, "owner");
        assert_eq!(role("admin", false), ("owner", None));
        assert_eq!(role("manager", false), ("manager", None));
        assert_eq!(role("staff", false), ("cashier", None));
        assert_eq!(role("Cashier", false), ("cashier", None));
        let (r, n) = role("barista", false);
        assert_eq!(r, "cashier");
        assert_eq!(n.unwrap().0, Issue::RoleUnknown);
        let (r, n) = role("cashier", true);
        assert_eq!(r, "owner");
        assert_eq!(n.unwrap().0, Issue::RoleSuperuser);
        assert_eq!(role("admin", true), ("owner", None));
    }

    #[test]
    fn payment_methods() {
        assert_eq!(payment_method("cash"), Some("cash"));
        assert_eq!(payment_method("qris"), Some("qris"));
        assert_eq!(payment_method("bca va"), Some("transfer"));
        assert_eq!(payment_method("BCA VA"), Some("transfer"));
        assert_eq!(payment_method("bank_transfer"), Some("transfer"));
        assert_eq!(payment_method("card"), Some("card"));
        assert_eq!(payment_method("ewallet"), Some("ewallet"));
        assert_eq!(payment_method("e-wallet"), Some("ewallet"));
        assert_eq!(payment_method("bitcoin"), None);
        assert_eq!(order_type("dine_in"), Some("dine_in"));
        assert_eq!(order_type("take_away"), Some("take_away"));
        assert_eq!(order_type("drive thru"), None);
    }

    #[test]
    fn statuses() {
        assert_eq!(status("completed"), Status::Paid { preparing: false });
        assert_eq!(status("processing"), Status::Paid { preparing: true });
        for s in ["pending", "cancelled", "expired", "failed"] {
            assert_eq!(status(s), Status::Unpaid, "{s}");
        }
        assert_eq!(status("refunded"), Status::Unknown);
    }

    #[test]
    fn image_urls_as_django_rendered_them() {
        assert_eq!(
            image_url("demo", "media/products/kopi_a1b2c3"),
            (
                "https://res.cloudinary.com/demo/image/upload/v1/media/products/kopi_a1b2c3".into(),
                false
            )
        );
        assert_eq!(
            image_url("demo", "products/old.jpg"),
            (
                "https://res.cloudinary.com/demo/image/upload/v1/media/products/old.jpg".into(),
                true
            )
        );
        assert_eq!(
            image_url("demo", "media/products//es teh manis%21_x").0,
            "https://res.cloudinary.com/demo/image/upload/v1/media/products/es%20teh%20manis%21_x"
        );
        assert_eq!(
            image_url("demo", "media/products/kopi_é").0,
            "https://res.cloudinary.com/demo/image/upload/v1/media/products/kopi_%C3%A9"
        );
        assert_eq!(collapse_slashes("a//b:///c//"), "a/b:///c/");
        assert_eq!(collapse_slashes("//a"), "//a");
        assert_eq!(unquote("a%2"), b"a%2".to_vec());
        assert_eq!(unquote("a%zz%41"), b"a%zzA".to_vec());
    }

    #[test]
    fn numbers() {
        let day = NaiveDate::from_ymd_opt(2025, 12, 30).unwrap();
        assert_eq!(parse_number("TRX-20251230-007"), Some((day, 7)));
        assert_eq!(parse_number("TRX-20251230-1000"), Some((day, 1000)));
        assert_eq!(parse_number("TRX-20251230-007-C2"), None);
        assert_eq!(parse_number("TRX-20251340-007"), None);
        assert_eq!(parse_number("INV-20251230-007"), None);
        let taken: HashSet<&str> = ["A", "A-C2", "A-C2-2"].into();
        let f = |n: &str| taken.contains(n);
        assert_eq!(free_number("B", "-C2", &f), "B");
        assert_eq!(free_number("A", "-C3", &f), "A-C3");
        assert_eq!(free_number("A", "-C2", &f), "A-C2-3");
    }

    #[test]
    fn names_and_text() {
        let taken: HashSet<String> = ["minuman".into(), "minuman (2)".into()].into();
        let paren = |k| format!(" ({k})");
        assert_eq!(free_name("Makanan", 100, &taken, paren), "Makanan");
        assert_eq!(free_name("MINUMAN", 100, &taken, paren), "MINUMAN (3)");
        assert_eq!(free_name("Minuman", 9, &taken, paren), "Minum (2)");
        assert_eq!(clip("kopi susu", 4), ("kopi".into(), true));
        assert_eq!(clip("kopi", 4), ("kopi".into(), false));
        assert_eq!(clip("ééé", 2), ("éé".into(), true));
        assert_eq!(username("budi santoso", "abc"), "budi_santoso");
        assert_eq!(username("  ", "0123456789"), "django-01234567");
        assert_eq!(username("budi", "x"), "budi");
    }

    #[test]
    fn consistent_amounts_pass_unchanged() {
        let a = am("10000", "0", "1100", "2000", "13100", "20000", "6900");
        let r = amounts(&a);
        assert_eq!(r.amounts, a);
        assert!(r.rounded.is_empty() && r.adjusted.is_empty());
    }

    #[test]
    fn a_lower_total_is_more_discount() {
        let r = amounts(&am("10000", "0", "1100", "0", "10000", "10000", "0"));
        holds(&r.amounts);
        assert_eq!(r.amounts.total, d("10000"));
        assert_eq!(r.amounts.discount, d("1100"));
        assert!(
            r.adjusted.iter().any(|a| a == "discount 0.00 -> 1100.00"),
            "{r:?}"
        );
    }

    #[test]
    fn a_higher_total_is_less_discount_then_more_subtotal() {
        let r = amounts(&am("10000", "500", "1100", "0", "11000", "11000", "0"));
        holds(&r.amounts);
        assert_eq!(r.amounts.discount, d("100"));
        let r = amounts(&am("10000", "0", "1100", "0", "12000", "12000", "0"));
        holds(&r.amounts);
        assert_eq!(
            (r.amounts.subtotal, r.amounts.total),
            (d("10900"), d("12000"))
        );
    }

    #[test]
    fn a_total_below_tax_and_takeaway_lowers_them() {
        let r = amounts(&am("10000", "0", "1100", "2000", "1500", "1500", "0"));
        holds(&r.amounts);
        assert_eq!(r.amounts.discount, d("10000"));
        assert_eq!((r.amounts.tax, r.amounts.takeaway), (d("0"), d("1500")));
    }

    #[test]
    fn paying_less_than_the_total_makes_the_total_what_was_paid() {
        let r = amounts(&am("10000", "0", "1100", "0", "11100", "10000", "0"));
        holds(&r.amounts);
        assert_eq!((r.amounts.paid, r.amounts.total), (d("10000"), d("10000")));
        assert!(r.adjusted[0].contains("less than the total"), "{r:?}");
    }

    #[test]
    fn wrong_change_is_paid_minus_total() {
        let r = amounts(&am("10000", "0", "1100", "0", "11100", "20000", "0"));
        holds(&r.amounts);
        assert_eq!(r.amounts.change, d("8900"));
        assert!(
            r.adjusted
                .iter()
                .any(|a| a == "change_amount 0.00 -> 8900.00"),
            "{r:?}"
        );
    }

    #[test]
    fn negative_total_and_fractions() {
        let r = amounts(&am("1000", "5000", "110", "0", "-3890", "0", "0"));
        holds(&r.amounts);
        assert_eq!(r.amounts.total, d("0"));
        let r = amounts(&am("100.005", "0", "11.0005", "0", "111.01", "111.01", "0"));
        holds(&r.amounts);
        assert_eq!(r.rounded.len(), 2, "{r:?}");
        assert_eq!(r.amounts.subtotal, d("100.01"));
        assert_eq!(r.amounts.tax, d("11.00"));
    }

    #[test]
    fn any_amounts_come_out_consistent() {
        // A small deterministic generator: every combination of awkward values.
        let vals = ["-5", "0", "0.004", "1", "99.995", "1000", "11100"];
        let mut n = 0;
        for s in vals {
            for di in vals {
                for t in ["0", "110", "-1"] {
                    for k in ["0", "2000"] {
                        for total in vals {
                            for p in ["0", "1000", "20000"] {
                                let r = amounts(&am(s, di, t, k, total, p, "0"));
                                holds(&r.amounts);
                                let paid = round_money(d(p)).max(Decimal::ZERO);
                                assert_eq!(r.amounts.paid, paid);
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 1000);
    }

    #[test]
    fn lines() {
        let l = line(3, d("2500"), d("7500")).unwrap();
        assert_eq!((l.unit_price, l.total), (d("2500"), d("7500")));
        assert!(l.notes.is_empty());
        let l = line(2, d("2500"), d("4000")).unwrap();
        assert_eq!(l.total, d("5000"));
        assert_eq!(l.notes[0].0, Issue::LineTotalFixed);
        let l = line(1, d("-10"), d("-10")).unwrap();
        assert_eq!(l.unit_price, d("0"));
        assert!(line(0, d("2500"), d("0")).is_err());
        assert!(line(-1, d("2500"), d("-2500")).is_err());
    }
}
