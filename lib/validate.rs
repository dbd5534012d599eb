//! Input checks that collect every problem, per field, into one
//! `validation_failed` answer.

use crate::error::{ApiError, FieldErrors};

/// The longest search text (`q`) a list takes: longer than any name or
/// number it could usefully match, and short enough that its trigrams stay
/// a handful (a megabyte of `q` would be a costly query).
pub const MAX_SEARCH_CHARS: usize = 100;

/// Refuses a search text over [`MAX_SEARCH_CHARS`] once trimmed, or with a
/// NUL character (Postgres text cannot hold one): 400 naming `field`.
pub fn search_text(field: &str, q: Option<&str>) -> Result<(), ApiError> {
    match q {
        Some(q) if q.trim().chars().count() > MAX_SEARCH_CHARS => Err(ApiError::field(
            field,
            format!("Ensure this field has no more than {MAX_SEARCH_CHARS} characters."),
        )),
        Some(q) if q.contains('\0') => {
            Err(ApiError::field(field, "Must not contain NUL characters."))
        }
        _ => Ok(()),
    }
}

#[derive(Default)]
pub struct Check {
    errors: FieldErrors,
}

impl Check {
    pub fn new() -> Check {
        Check::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    /// Trimmed text of `min..=max` characters without control characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        // The length limit and the control characters are judged on the
        // text as sent, as the document's maxLength and pattern state;
        // only blankness after the trim.
        let raw = value;
        let value = value.trim();
        if value.chars().count() < min {
            self.add(
                field,
                if min == 1 {
                    "This field may not be blank.".to_string()
                } else {
                    format!("Ensure this field has at least {min} characters.")
                },
            );
        } else if raw.chars().count() > max {
            self.add(
                field,
                format!("Ensure this field has no more than {max} characters."),
            );
        } else if raw
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.add(field, "Must not contain control characters.");
        }
        value.to_string()
    }

    /// Like [`Check::text`], but an empty string means "none".
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value?;
        if value.trim().is_empty() {
            return None;
        }
        Some(self.text(field, value, 1, max))
    }

    pub fn range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        value: T,
        min: T,
        max: T,
    ) -> T {
        if value < min || value > max {
            self.add(field, format!("Must be between {min} and {max}."));
        }
        value
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_field() {
        let mut c = Check::new();
        assert_eq!(c.text("name", "  Kopi  ", 1, 10), "Kopi");
        c.text("sku", "", 1, 10);
        c.text("note", &"x".repeat(11), 1, 10);
        c.text("bell", "a\u{7}b", 1, 10);
        c.range("threshold", -1, 0, 10);
        let Err(ApiError::Validation(f)) = c.finish() else {
            panic!("expected errors")
        };
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            ["bell", "note", "sku", "threshold"]
        );
    }

    /// Found by schemathesis: a name of 101 characters whose first is a
    /// no-break space was trimmed to 100 and taken, and a trailing CR was
    /// trimmed away, where the document's maxLength and pattern refuse
    /// both. Blankness is still judged after the trim.
    #[test]
    fn length_and_control_characters_are_judged_as_sent() {
        let mut c = Check::new();
        c.text("long", &format!("\u{a0}{}", "x".repeat(100)), 1, 100);
        c.text("cr", "Kopi\r", 1, 100);
        assert_eq!(
            c.optional_text("note", Some("Kopi\r"), 100),
            Some("Kopi".into())
        );
        assert_eq!(
            c.text("fits", &format!(" {} ", "x".repeat(98)), 1, 100)
                .len(),
            98
        );
        assert_eq!(c.optional_text("none", Some(" \t "), 100), None);
        c.text("blank", " \u{a0} ", 1, 100);
        let Err(ApiError::Validation(f)) = c.finish() else {
            panic!("expected errors")
        };
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            ["blank", "cr", "long", "note"]
        );
    }
}
