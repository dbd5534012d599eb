//! What an import did: the counts and totals of both sides, which must add
//! up, and every row that was not copied as it was (the rules it went
//! through), so nothing Django held is ever dropped or changed silently.

use std::fmt;

use rust_decimal::Decimal;

/// A kind of thing the import did not copy as Django had it. Each has one
/// rule (README, "Moving from the Django backend").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Issue {
    /// The Django schema predates a column; Django's own backfill value is used.
    OlderSchema,
    /// Rows of other cafes, left for another run with `--cafe`.
    OtherCafe,
    /// Duitku payment records: we keep none.
    PaymentsNotImported,
    /// After the import no active owner can log in.
    NoOwner,
    /// A Django user whose username is already ours: matched, not duplicated.
    UserMatched,
    /// A username our database refuses (blank, whitespace), changed.
    UsernameChanged,
    /// A role that is none of Django's: cashier.
    RoleUnknown,
    /// A Django superuser whose role maps below owner: owner.
    RoleSuperuser,
    /// A password hash our login cannot verify (not pbkdf2_sha256).
    PasswordUnusable,
    /// A cashier of this cafe's sales who belongs to another cafe.
    CashierFromElsewhere,
    /// Sales without a cashier: they get the import's inactive account.
    NoCashier,
    /// Text longer than our limit, cut.
    TextTruncated,
    /// A blank name, replaced.
    NameBlank,
    /// A category name already taken (case-insensitively), numbered.
    NameDuplicate,
    /// An empty SKU: no SKU.
    SkuBlank,
    /// A SKU already taken (case-insensitively), numbered.
    SkuDuplicate,
    /// A negative price or cost: 0.
    NegativeAmount,
    /// Negative stock: 0.
    StockNegative,
    /// Stock above our maximum: the maximum.
    StockCapped,
    /// Marked unavailable while in stock: imported as not for sale.
    Unavailable,
    /// An image with no Cloudinary cloud name to build its URL: not kept.
    ImageDropped,
    /// An image stored before Cloudinary (`products/...`): its URL is built
    /// as Django rendered it, which probably no longer resolves.
    ImageLegacy,
    /// A product's category is not among the imported ones: uncategorised.
    CategoryMissing,
    /// A Django id already used by a row of ours: a new integer id.
    IntIdTaken,
    /// Not a paid sale (pending, cancelled, expired, failed): not imported.
    SaleSkipped,
    /// A status that is none of Django's: not imported.
    StatusUnknown,
    /// A payment method we do not know: cash.
    PaymentUnknown,
    /// An order type we do not know: dine in.
    OrderTypeUnknown,
    /// A transaction number already ours (or blank): suffixed.
    NumberChanged,
    /// Amounts that break our arithmetic, adjusted (the money paid kept).
    AmountsAdjusted,
    /// Fractions of a cent, rounded half-up.
    CentsRounded,
    /// Lines that do not add up to the subtotal: both kept as they were.
    LinesMismatch,
    /// A line with no units (quantity 0 or below): not imported.
    LineDropped,
    /// A line subtotal other than price x quantity: price x quantity.
    LineTotalFixed,
    /// A line of a product Django deleted: sold as a deleted product of ours.
    LineProductDeleted,
    /// A line of a product of another cafe: sold as a deleted product of ours.
    LineProductElsewhere,
    /// A sale with no lines left: imported with its money, without lines.
    SaleWithoutLines,
}

impl Issue {
    /// A stable name (tests and scripts may match on it).
    pub fn as_str(self) -> &'static str {
        match self {
            Issue::OlderSchema => "older_schema",
            Issue::OtherCafe => "other_cafe",
            Issue::PaymentsNotImported => "payments_not_imported",
            Issue::NoOwner => "no_owner",
            Issue::UserMatched => "user_matched",
            Issue::UsernameChanged => "username_changed",
            Issue::RoleUnknown => "role_unknown",
            Issue::RoleSuperuser => "role_superuser",
            Issue::PasswordUnusable => "password_unusable",
            Issue::CashierFromElsewhere => "cashier_from_elsewhere",
            Issue::NoCashier => "no_cashier",
            Issue::TextTruncated => "text_truncated",
            Issue::NameBlank => "name_blank",
            Issue::NameDuplicate => "name_duplicate",
            Issue::SkuBlank => "sku_blank",
            Issue::SkuDuplicate => "sku_duplicate",
            Issue::NegativeAmount => "negative_amount",
            Issue::StockNegative => "stock_negative",
            Issue::StockCapped => "stock_capped",
            Issue::Unavailable => "unavailable",
            Issue::ImageDropped => "image_dropped",
            Issue::ImageLegacy => "image_legacy",
            Issue::CategoryMissing => "category_missing",
            Issue::IntIdTaken => "int_id_taken",
            Issue::SaleSkipped => "sale_skipped",
            Issue::StatusUnknown => "status_unknown",
            Issue::PaymentUnknown => "payment_unknown",
            Issue::OrderTypeUnknown => "order_type_unknown",
            Issue::NumberChanged => "number_changed",
            Issue::AmountsAdjusted => "amounts_adjusted",
            Issue::CentsRounded => "cents_rounded",
            Issue::LinesMismatch => "lines_mismatch",
            Issue::LineDropped => "line_dropped",
            Issue::LineTotalFixed => "line_total_fixed",
            Issue::LineProductDeleted => "line_product_deleted",
            Issue::LineProductElsewhere => "line_product_elsewhere",
            Issue::SaleWithoutLines => "sale_without_lines",
        }
    }

    /// The rule, as the report's heading says it.
    pub fn heading(self) -> &'static str {
        match self {
            Issue::OlderSchema => {
                "Older Django schema: missing columns take Django's backfill value"
            }
            Issue::OtherCafe => "Other cafes, not imported (run again with --cafe <id>)",
            Issue::PaymentsNotImported => "Duitku payment records, not imported (we keep none)",
            Issue::NoOwner => "No active owner",
            Issue::UserMatched => "Usernames already ours: matched to our account, not duplicated",
            Issue::UsernameChanged => "Usernames we refuse, changed",
            Issue::RoleUnknown => "Roles that are none of Django's: cashier",
            Issue::RoleSuperuser => "Django superusers: owner",
            Issue::PasswordUnusable => {
                "Passwords our login cannot verify (set a new one with PATCH /api/users/{id})"
            }
            Issue::CashierFromElsewhere => "Cashiers of this cafe's sales from another cafe",
            Issue::NoCashier => "Sales without a cashier: the import's inactive account",
            Issue::TextTruncated => "Text longer than we keep, cut",
            Issue::NameBlank => "Blank names, replaced",
            Issue::NameDuplicate => "Names already taken, numbered",
            Issue::SkuBlank => "Empty SKUs: no SKU",
            Issue::SkuDuplicate => "SKUs already taken, numbered",
            Issue::NegativeAmount => "Negative prices or costs: 0",
            Issue::StockNegative => "Negative stock: 0",
            Issue::StockCapped => "Stock above 1,000,000: 1,000,000",
            Issue::Unavailable => "Unavailable while in stock: not for sale",
            Issue::ImageDropped => "Images not kept (no --cloudinary-cloud and no CLOUDINARY_URL)",
            Issue::ImageLegacy => "Images from before Cloudinary: URL kept as Django rendered it",
            Issue::CategoryMissing => "Categories not imported: uncategorised",
            Issue::IntIdTaken => "Ids already used by a row of ours: a new id",
            Issue::SaleSkipped => {
                "Unpaid sales (pending, cancelled, expired, failed): not imported"
            }
            Issue::StatusUnknown => "Unknown statuses: not imported",
            Issue::PaymentUnknown => "Unknown payment methods: cash",
            Issue::OrderTypeUnknown => "Unknown order types: dine in",
            Issue::NumberChanged => "Transaction numbers already ours or blank: suffixed",
            Issue::AmountsAdjusted => "Amounts adjusted (the money paid is kept)",
            Issue::CentsRounded => "Fractions of a cent, rounded half-up",
            Issue::LinesMismatch => "Lines that do not add up to the subtotal (both kept)",
            Issue::LineDropped => "Lines with no units (quantity 0 or less): not imported",
            Issue::LineTotalFixed => "Line subtotals other than price x quantity: price x quantity",
            Issue::LineProductDeleted => {
                "Lines of products Django deleted: a deleted product of ours"
            }
            Issue::LineProductElsewhere => {
                "Lines of another cafe's products: a deleted product of ours"
            }
            Issue::SaleWithoutLines => "Sales with no lines: imported without lines",
        }
    }
}

/// One row that was not copied as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub issue: Issue,
    /// Which row: `sale TRX-20251230-007 (Django id 17)`.
    pub subject: String,
    /// What was done: `stock -3 -> 0`.
    pub detail: String,
}

/// One count or total, from both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub name: &'static str,
    /// Money (shown with two places) rather than a count.
    pub money: bool,
    /// Everything Django holds in the imported scope.
    pub django: Decimal,
    /// Of those, what an earlier run already imported.
    pub earlier: Decimal,
    /// Of those, what the rules leave out (unpaid sales, empty lines).
    pub skipped: Decimal,
    /// What the rules changed (negative stock raised to 0, adjusted totals).
    pub adjusted: Decimal,
    /// What this run wrote into our database, read back from it.
    pub ours: Decimal,
}

impl Measure {
    pub fn expected(&self) -> Decimal {
        self.django - self.earlier - self.skipped + self.adjusted
    }

    pub fn matches(&self) -> bool {
        self.expected() == self.ours
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    /// Which Django schema, and which cafe.
    pub source: String,
    pub dry_run: bool,
    pub measures: Vec<Measure>,
    pub notices: Vec<Notice>,
    /// Rows the import made that Django did not have (placeholders).
    pub made: Vec<String>,
}

impl Report {
    pub fn measure(&self, name: &str) -> &Measure {
        self.measures
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no measure {name}"))
    }

    pub fn balanced(&self) -> bool {
        self.measures.iter().all(Measure::matches)
    }

    pub fn notices_of(&self, issue: Issue) -> Vec<&Notice> {
        self.notices.iter().filter(|n| n.issue == issue).collect()
    }

    /// True when this run wrote nothing new (everything was imported before).
    pub fn nothing_new(&self) -> bool {
        self.measures.iter().all(|m| m.ours.is_zero())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Import from {}", self.source)?;
        if self.dry_run {
            writeln!(
                f,
                "DRY RUN: everything below was done, then rolled back; nothing was written."
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<16}{:>16}{:>16}{:>14}{:>14}{:>16}{:>16}",
            "", "django", "earlier run", "skipped", "adjusted", "expected", "ours"
        )?;
        for m in &self.measures {
            let show = |d: Decimal| {
                if m.money {
                    format!("{d:.2}")
                } else {
                    d.to_string()
                }
            };
            let adjusted = if m.adjusted.is_sign_positive() && !m.adjusted.is_zero() {
                format!("+{}", show(m.adjusted))
            } else {
                show(m.adjusted)
            };
            writeln!(
                f,
                "{:<16}{:>16}{:>16}{:>14}{:>14}{:>16}{:>16}  {}",
                m.name,
                show(m.django),
                show(m.earlier),
                show(m.skipped),
                adjusted,
                show(m.expected()),
                show(m.ours),
                if m.matches() { "ok" } else { "MISMATCH" }
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "django: in the imported scope; earlier run: already imported, skipped now; \
             skipped: left out by the rules below;"
        )?;
        writeln!(
            f,
            "adjusted: changed by the rules below; expected = django - earlier - skipped + adjusted; \
             ours: written by this run, read back."
        )?;
        if self.nothing_new() {
            writeln!(
                f,
                "Nothing new to import: every row was imported by an earlier run."
            )?;
        }
        if !self.made.is_empty() {
            writeln!(f)?;
            writeln!(f, "Made by the import:")?;
            for m in &self.made {
                writeln!(f, "  - {m}")?;
            }
        }
        let mut issues: Vec<Issue> = self.notices.iter().map(|n| n.issue).collect();
        issues.sort();
        issues.dedup();
        for issue in issues {
            let of = self.notices_of(issue);
            writeln!(f)?;
            writeln!(f, "{} [{}]: {}", issue.heading(), issue.as_str(), of.len())?;
            for n in of {
                writeln!(f, "  - {}: {}", n.subject, n.detail)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_accounts_for_earlier_skipped_and_adjusted() {
        let m = Measure {
            name: "stock",
            money: false,
            django: Decimal::from(10),
            earlier: Decimal::from(2),
            skipped: Decimal::from(1),
            adjusted: Decimal::from(3),
            ours: Decimal::from(10),
        };
        assert_eq!(m.expected(), Decimal::from(10));
        assert!(m.matches());
        let off = Measure {
            ours: Decimal::from(9),
            ..m
        };
        assert!(!off.matches());
    }
}
