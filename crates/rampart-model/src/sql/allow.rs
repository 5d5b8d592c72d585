//! What advanced SQL may call: functions, operators and types, each an allow-list.
//!
//! Functions are those of computing over values that both databases (or one of them) have
//! and that read nothing but their arguments: no file, extension, setting, sequence, sleep,
//! large-object or catalogue function can be named, whatever the database offers. Functions
//! that allocate what their arguments ask (`zeroblob`, `repeat`, `lpad`, `printf`) are left
//! out too.

use sqlparser::ast::{BinaryOperator, DataType, UnaryOperator};

/// The functions advanced SQL may call (compared ignoring case). Some exist in one database
/// only; a query using one runs there and fails clearly on the other.
pub const FUNCTIONS: &[&str] = &[
    // Aggregates.
    "avg",
    "count",
    "group_concat",
    "max",
    "min",
    "string_agg",
    "sum",
    "total",
    // Windows.
    "cume_dist",
    "dense_rank",
    "first_value",
    "lag",
    "last_value",
    "lead",
    "nth_value",
    "ntile",
    "percent_rank",
    "rank",
    "row_number",
    // Values.
    "abs",
    "ceil",
    "ceiling",
    "coalesce",
    "floor",
    "greatest",
    "ifnull",
    "iif",
    "least",
    "nullif",
    "round",
    "sign",
    // Text.
    "concat",
    "instr",
    "length",
    "lower",
    "ltrim",
    "replace",
    "rtrim",
    "strpos",
    "substr",
    "substring",
    "trim",
    "upper",
    // Dates and times (kept as ISO text by the runtime).
    "current_date",
    "current_time",
    "current_timestamp",
    "date",
    "date_part",
    "date_trunc",
    "datetime",
    "julianday",
    "strftime",
    "time",
    "to_char",
];

/// Whether a binary operator may be used: comparison, arithmetic, logic, concatenation and
/// bits; none of the dialects' JSON, regular-expression, geometric or custom operators.
pub fn binary(op: &BinaryOperator) -> bool {
    use BinaryOperator::*;
    matches!(
        op,
        Plus | Minus
            | Multiply
            | Divide
            | Modulo
            | StringConcat
            | Gt
            | Lt
            | GtEq
            | LtEq
            | Eq
            | NotEq
            | And
            | Or
            | BitwiseOr
            | BitwiseAnd
            | PGBitwiseShiftLeft
            | PGBitwiseShiftRight
    )
}

/// Whether a unary operator may be used.
pub fn unary(op: &UnaryOperator) -> bool {
    matches!(
        op,
        UnaryOperator::Plus | UnaryOperator::Minus | UnaryOperator::Not
    )
}

/// Whether a value may be cast to (or written as a literal of) `ty`: numbers, text,
/// booleans, dates and times, as both databases name them.
pub fn data_type(ty: &DataType) -> bool {
    use DataType::*;
    matches!(
        ty,
        Int(_)
            | Integer(_)
            | BigInt(_)
            | SmallInt(_)
            | Int2(_)
            | Int4(_)
            | Int8(_)
            | Real
            | Float(_)
            | Float4
            | Float8
            | Double(_)
            | DoublePrecision
            | Numeric(_)
            | Decimal(_)
            | Text
            | Varchar(_)
            | Char(_)
            | Character(_)
            | CharacterVarying(_)
            | Bool
            | Boolean
            | Date
            | Time(_, _)
            | Timestamp(_, _)
    )
}
