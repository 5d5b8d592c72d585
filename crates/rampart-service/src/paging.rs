//! The cursors of the API's lists, read back: a page's `next_cursor` is what the next
//! request sends, and anything else is refused the same way on every list.

use rampart_core::Error;

/// The refusal of a cursor that no page returned.
pub(crate) fn bad_cursor() -> Error {
    Error::invalid("cursor", "is not a cursor this API returned")
}

/// A cursor that is the positive number (an id, a sequence number) of the last row a page
/// held; `None` for the first page.
pub(crate) fn number_cursor(cursor: Option<&str>) -> Result<Option<i64>, Error> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(bad_cursor)
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_numbers_are_cursors() {
        assert_eq!(number_cursor(None).ok(), Some(None));
        assert_eq!(number_cursor(Some("17")).ok(), Some(Some(17)));
        for bad in ["0", "-3", "", "x", "1.5", "99999999999999999999", " 4"] {
            assert!(number_cursor(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
