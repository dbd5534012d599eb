//! CSV for spreadsheets: RFC 4180 (comma, CRLF, quotes doubled), a header
//! row, UTF-8. Text a spreadsheet would run as a formula (a product named
//! `=HYPERLINK(...)`) is prefixed with `'`; numbers are written as they are.

use std::fmt::Write;

#[derive(Default)]
pub struct Csv {
    out: String,
}

impl Csv {
    pub fn new(header: &[&str]) -> Csv {
        let mut csv = Csv::default();
        csv.row(header.iter().map(|h| Cell::Text(h)));
        csv
    }

    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            match cell {
                Cell::Number(n) => {
                    let _ = write!(self.out, "{n}");
                }
                Cell::Text(t) => self.text(t),
            }
        }
        self.out.push_str("\r\n");
    }

    fn text(&mut self, t: &str) {
        let guarded = t.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let quoted = guarded || t.contains([',', '"', '\n', '\r']);
        if quoted {
            self.out.push('"');
        }
        if guarded {
            self.out.push('\'');
        }
        self.out.push_str(&t.replace('"', "\"\""));
        if quoted {
            self.out.push('"');
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

pub enum Cell<'a> {
    /// An amount or a count, written as is.
    Number(String),
    /// Free text: quoted when needed, guarded against formulas.
    Text(&'a str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_formula_guard() {
        let mut csv = Csv::new(&["name", "amount"]);
        csv.row([Cell::Text("Kopi, susu"), Cell::Number("-12.00".into())]);
        csv.row([Cell::Text("=1+1"), Cell::Number("3".into())]);
        csv.row([Cell::Text("say \"hi\""), Cell::Number("0.00".into())]);
        assert_eq!(
            csv.finish(),
            "name,amount\r\n\"Kopi, susu\",-12.00\r\n\"'=1+1\",3\r\n\"say \"\"hi\"\"\",0.00\r\n"
        );
    }
}
