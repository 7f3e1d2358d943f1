//! CSV files that people open in a spreadsheet: UTF-8 with a BOM and CRLF line ends (so Excel
//! reads accents and line breaks correctly), and no cell that a spreadsheet would run as a
//! formula. Every export goes through here, so none can forget either.
use axum::{
    http::header,
    response::{IntoResponse, Response},
};

pub struct Sheet(csv::Writer<Vec<u8>>);

impl Default for Sheet {
    fn default() -> Sheet {
        Sheet(
            csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                // Rows of different widths are written as they are, so writing never fails.
                .flexible(true)
                .from_writer(b"\xEF\xBB\xBF".to_vec()),
        )
    }
}

impl Sheet {
    pub fn row<I>(&mut self, cells: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| defused(c.as_ref())).collect();
        // Writing to memory has no I/O to fail, and `flexible` accepts any width.
        let _ = self.0.write_record(&cells);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap_or_default()
    }

    /// The sheet as a file download named `filename`.
    pub fn download(self, filename: &str) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            ],
            self.into_bytes(),
        )
            .into_response()
    }
}

/// A cell starting with = + - @ (or a tab or carriage return) would run as a formula in a
/// spreadsheet; a leading quote stops that. Numbers such as -5.00 are left as numbers.
fn defused(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(defused("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defused("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defused("-5.00"), "-5.00");
        assert_eq!(defused("Sam"), "Sam");
    }

    #[test]
    fn a_sheet_starts_with_a_bom_and_ends_lines_with_crlf() {
        let mut sheet = Sheet::default();
        sheet.row(["Name", "Note"]);
        sheet.row(["Siân", "+44 formula"]);
        assert_eq!(sheet.into_bytes(), "\u{feff}Name,Note\r\nSiân,'+44 formula\r\n".as_bytes());
    }
}
