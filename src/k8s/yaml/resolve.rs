//! Scalar resolution as kubectl does it: go-yaml v2's `resolve` (YAML 1.1 types, Go's `strconv`
//! number syntax), as vendored in sigs.k8s.io/yaml v1.4.0, then the JSON round trip through
//! `json.Marshal` and apimachinery's unstructured decoding.

use serde_json::{Number, Value};

use super::Problem;

const CORE: &str = "tag:yaml.org,2002:";

/// A resolved scalar, in the Go types go-yaml v2 produces for `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    /// Go `int` (64-bit): every integer in the i64 range.
    Int(i64),
    /// Go `uint64`: integers above i64::MAX.
    Uint(u64),
    Float(f64),
    /// Strings, timestamps (go-yaml v2 keeps them as written) and decoded `!!binary`.
    Str(String),
}

/// The tag go-yaml's resolution settled on, for the "cannot decode" check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Timestamp,
    Merge,
}

impl Kind {
    fn short(self) -> &'static str {
        match self {
            Kind::Null => "!!null",
            Kind::Bool => "!!bool",
            Kind::Int => "!!int",
            Kind::Float => "!!float",
            Kind::Str => "!!str",
            Kind::Timestamp => "!!timestamp",
            Kind::Merge => "!!merge",
        }
    }

    fn from_tag(tag: &str) -> Option<Kind> {
        Some(match tag.strip_prefix(CORE)? {
            "null" => Kind::Null,
            "bool" => Kind::Bool,
            "int" => Kind::Int,
            "float" => Kind::Float,
            "str" => Kind::Str,
            "timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }
}

/// Resolve one scalar. `tag` is the full tag URI (`tag:yaml.org,2002:int`, `!foo`), `plain` says
/// the scalar was written without quotes or block indicator.
pub(crate) fn resolve(tag: Option<&str>, value: &str, plain: bool) -> Result<Scalar, Problem> {
    let wanted = match tag {
        // Quoted and block scalars without a tag are always strings.
        None if !plain => return Ok(Scalar::Str(value.to_owned())),
        None => None,
        Some("tag:yaml.org,2002:binary") => {
            return decode_base64(value).map(|bytes| Scalar::Str(go_string(&bytes)));
        }
        Some(tag) => match Kind::from_tag(tag) {
            Some(kind) => Some(kind),
            // Any other tag (local `!foo`, the non-specific `!`, `!!map` on a scalar) keeps the
            // text as a string: go-yaml does not resolve tags it does not know.
            None => return Ok(Scalar::Str(value.to_owned())),
        },
    };
    let (kind, scalar) = implicit(wanted, value);
    match wanted {
        None => Ok(scalar),
        Some(wanted) if wanted == kind || wanted == Kind::Str => Ok(scalar),
        Some(Kind::Float) if kind == Kind::Int => match scalar {
            Scalar::Int(int) => Ok(Scalar::Float(int as f64)),
            // go-yaml converts only `int`, so `!!float 18446744073709551615` fails.
            _ => Err(mismatch(value, kind, Kind::Float)),
        },
        Some(wanted) => Err(mismatch(value, kind, wanted)),
    }
}

fn mismatch(value: &str, found: Kind, wanted: Kind) -> Problem {
    Problem::TagMismatch {
        value: value.to_owned(),
        found: found.short(),
        wanted: wanted.short(),
    }
}

/// go-yaml's implicit resolution, steered by the first byte as its `resolveTable` does.
fn implicit(wanted: Option<Kind>, value: &str) -> (Kind, Scalar) {
    let as_string = (Kind::Str, Scalar::Str(value.to_owned()));
    if wanted == Some(Kind::Str) {
        return as_string;
    }
    let hint = match value.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return as_string,
    };
    if let Some(known) = known_word(value) {
        return known;
    }
    match hint {
        // Go's ParseFloat on the text as written: underscores are not removed here.
        b'.' if dot_float(value)
            && let Some(float) = finite(value) =>
        {
            return (Kind::Float, Scalar::Float(float));
        }
        b'D' | b'S' => {
            if matches!(wanted, None | Some(Kind::Timestamp)) && is_timestamp(value) {
                return (Kind::Timestamp, Scalar::Str(value.to_owned()));
            }
            let plain = value.replace('_', "");
            if let Some(int) = parse_int(&plain, 0) {
                return (Kind::Int, Scalar::Int(int));
            }
            if let Some(uint) = parse_uint(&plain, 0) {
                return (Kind::Int, Scalar::Uint(uint));
            }
            if yaml_style_float(&plain)
                && let Some(float) = finite(&plain)
            {
                return (Kind::Float, Scalar::Float(float));
            }
            // go-yaml's own binary fallback, reachable for oddities such as `0b-101` (= -5).
            if let Some(digits) = plain.strip_prefix("0b") {
                if let Some(int) = parse_int(digits, 2) {
                    return (Kind::Int, Scalar::Int(int));
                }
                if let Some(uint) = parse_uint(digits, 2) {
                    return (Kind::Int, Scalar::Uint(uint));
                }
            } else if let Some(digits) = plain.strip_prefix("-0b")
                && let Some(int) = parse_int(&format!("-{digits}"), 2)
            {
                return (Kind::Int, Scalar::Int(int));
            }
        }
        _ => {}
    }
    as_string
}

/// go-yaml v2's `resolveMap`: the YAML 1.1 booleans, nulls and special floats, exact spellings only.
fn known_word(value: &str) -> Option<(Kind, Scalar)> {
    Some(match value {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            (Kind::Bool, Scalar::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            (Kind::Bool, Scalar::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => (Kind::Null, Scalar::Null),
        ".nan" | ".NaN" | ".NAN" => (Kind::Float, Scalar::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => (Kind::Float, Scalar::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => (Kind::Float, Scalar::Float(f64::NEG_INFINITY)),
        "<<" => (Kind::Merge, Scalar::Str("<<".to_owned())),
        _ => return None,
    })
}

/// Go's `strconv.ParseUint(s, base, 64)`; base 0 reads the `0x`/`0o`/`0b` prefixes and a bare
/// leading `0` as octal. No sign is accepted. `None` for a syntax or range error.
fn parse_uint(text: &str, base: u32) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let (base, digits) = if base != 0 {
        (base, text)
    } else if let Some(rest) = text.strip_prefix('0') {
        let bytes = text.as_bytes();
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (2, &text[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &text[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &text[2..]),
            // "0" alone is 0: the prefix consumed everything and no digit is missing.
            _ => (8, rest),
        }
    } else {
        (10, text)
    };
    let mut value: u64 = 0;
    for ch in digits.chars() {
        let digit = ch.to_digit(base)?;
        value = value.checked_mul(u64::from(base))?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Go's `strconv.ParseInt(s, base, 64)`: an optional sign, then [`parse_uint`], then the range.
fn parse_int(text: &str, base: u32) -> Option<i64> {
    let (negative, magnitude) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_uint(magnitude, base)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        if digits(&mut at) == 0 {
            return false;
        }
    } else {
        if digits(&mut at) == 0 {
            return false;
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            digits(&mut at);
        }
    }
    exponent_then_end(bytes, at)
}

/// What Go's `ParseFloat` accepts for text starting with `.`: `.digits` and an optional exponent.
fn dot_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 1;
    let start = at;
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at > start && exponent_then_end(bytes, at)
}

fn exponent_then_end(bytes: &[u8], mut at: usize) -> bool {
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return false;
        }
    }
    at == bytes.len()
}

/// The value of decimal float text already checked for Go syntax; `None` where Go's `ParseFloat`
/// reports a range error (overflow; underflow to zero is not an error in Go either).
fn finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|float| float.is_finite())
}

/// go-yaml v2's `parseTimestamp`: `YYYY-` and then one of Go's layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), `2006-1-2 15:4:5.999999999`, `2006-1-2`.
/// Only `!!timestamp` and the int/float precedence depend on it: the value stays the string.
fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return false;
    }
    let year = bytes[..4]
        .iter()
        .fold(0u32, |acc, digit| acc * 10 + u32::from(digit - b'0'));
    let mut at = 5;
    let Some(month) = go_num(bytes, &mut at) else {
        return false;
    };
    if !(1..=12).contains(&month) || bytes.get(at) != Some(&b'-') {
        return false;
    }
    at += 1;
    let Some(day) = go_num(bytes, &mut at) else {
        return false;
    };
    if day < 1 || day > days_in(month, year) {
        return false;
    }
    let zone = match bytes.get(at) {
        None => return true,
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        Some(_) => return false,
    };
    at += 1;
    for (limit, separator) in [(23, Some(b':')), (59, Some(b':')), (59, None)] {
        match go_num(bytes, &mut at) {
            Some(value) if value <= limit => {}
            _ => return false,
        }
        if let Some(separator) = separator {
            if bytes.get(at) != Some(&separator) {
                return false;
            }
            at += 1;
        }
    }
    // Fractional seconds: `.` or `,` and at least one digit.
    if matches!(bytes.get(at), Some(b'.' | b',')) && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
        at += 1;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    if !zone {
        return at == bytes.len();
    }
    match bytes.get(at) {
        Some(b'Z') => at + 1 == bytes.len(),
        Some(b'+' | b'-') => {
            let rest = &bytes[at + 1..];
            rest.len() == 5
                && rest[2] == b':'
                && [0, 1, 3, 4].iter().all(|&index| rest[index].is_ascii_digit())
                && (rest[0] - b'0') * 10 + (rest[1] - b'0') <= 24
                && (rest[3] - b'0') * 10 + (rest[4] - b'0') <= 60
        }
        _ => false,
    }
}

/// Go's `getnum(s, false)`: one or two digits.
fn go_num(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let first = *bytes.get(*at).filter(|byte| byte.is_ascii_digit())?;
    *at += 1;
    let mut value = u32::from(first - b'0');
    if let Some(second) = bytes.get(*at).filter(|byte| byte.is_ascii_digit()) {
        *at += 1;
        value = value * 10 + u32::from(second - b'0');
    }
    Some(value)
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` ignored.
fn decode_base64(text: &str) -> Result<Vec<u8>, Problem> {
    let symbols: Vec<u8> = text.bytes().filter(|byte| !matches!(byte, b'\r' | b'\n')).collect();
    if !symbols.len().is_multiple_of(4) {
        return Err(Problem::Base64);
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    let quanta = symbols.len() / 4;
    for (index, quantum) in symbols.chunks(4).enumerate() {
        let padding = quantum.iter().rev().take_while(|&&byte| byte == b'=').count();
        if padding > 2 || (padding > 0 && index + 1 != quanta) {
            return Err(Problem::Base64);
        }
        let mut bits: u32 = 0;
        for &byte in &quantum[..4 - padding] {
            let value = match byte {
                b'A'..=b'Z' => byte - b'A',
                b'a'..=b'z' => byte - b'a' + 26,
                b'0'..=b'9' => byte - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(Problem::Base64),
            };
            bits = bits << 6 | u32::from(value);
        }
        bits <<= 6 * padding as u32;
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Ok(out)
}

/// Bytes as Go's `json.Marshal` writes a string: each byte that is not part of valid UTF-8
/// becomes U+FFFD on its own (Rust's lossy decoding would merge some of them).
fn go_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                // `valid` was just checked; the fallback is never taken.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = &after[1..];
            }
        }
    }
}

/// The JSON value kubectl sends for a resolved scalar: `json.Marshal`, then apimachinery's
/// unstructured decoding, which keeps a number as `int64` when its text parses as one and as
/// `float64` otherwise. So integral floats below 2^63 become integers and every `uint64` becomes
/// a float.
pub(crate) fn to_json(scalar: Scalar, written: &str) -> Result<Value, Problem> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(value) => Value::Bool(value),
        Scalar::Int(value) => Value::from(value),
        Scalar::Uint(value) => float(value as f64, written)?,
        Scalar::Float(value) => float(value, written)?,
        Scalar::Str(value) => Value::String(value),
    })
}

/// A float as it comes out of kubectl's JSON round trip.
pub(crate) fn float(value: f64, written: &str) -> Result<Value, Problem> {
    if !value.is_finite() {
        return Err(Problem::NotJson(written.to_owned()));
    }
    // Go's json.Marshal writes a float64 below 1e21 as its shortest round-trip digits padded with
    // zeros, and the receiver keeps text that parses as int64 as int64. Rust's `Display` writes
    // the same digits, so `1.0` becomes 1, -0.0 becomes 0, and 1.2345678901234567e18 becomes
    // 1234567890123456800 (not the float's exact value), while 2^63 stays a float.
    if value.fract() == 0.0
        && let Ok(int) = value.to_string().parse::<i64>()
    {
        return Ok(Value::from(int));
    }
    Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
}

/// A float map key as sigs.k8s.io/yaml writes it: `strconv.FormatFloat(f, 'g', -1, 32)`, so the
/// value is first rounded to float32, and `.inf`/`-.inf`/`.nan` for the special values.
pub(crate) fn float_key(value: f64) -> String {
    let single = value as f32;
    if single.is_nan() {
        return ".nan".to_owned();
    }
    if single.is_infinite() {
        return if single > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let negative = single.is_sign_negative();
    if single == 0.0 {
        return if negative { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Go, e.g. "1.2345679e8".
    let scientific = format!("{:e}", single.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    // %g with the shortest precision switches to %e below 1e-4 or from 1e6 (Go uses precision 6
    // for that decision).
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    } else if exponent < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exponent - 1) as usize));
        out.push_str(&digits);
    } else {
        let point = exponent as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            out.push_str(&"0".repeat(point - digits.len()));
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Scalar {
        resolve(None, text, true).expect("resolves")
    }

    #[test]
    fn leading_zero_is_octal_and_08_falls_back_to_float() {
        assert_eq!(plain("0400"), Scalar::Int(256));
        assert_eq!(plain("0644"), Scalar::Int(420));
        assert_eq!(plain("0755"), Scalar::Int(493));
        assert_eq!(plain("010"), Scalar::Int(8));
        assert_eq!(plain("-0400"), Scalar::Int(-256));
        assert_eq!(plain("+0400"), Scalar::Int(256));
        assert_eq!(plain("08"), Scalar::Float(8.0));
        assert_eq!(plain("09"), Scalar::Float(9.0));
        assert_eq!(plain("0"), Scalar::Int(0));
        assert_eq!(plain("00"), Scalar::Int(0));
    }

    #[test]
    fn prefixes_signs_and_underscores() {
        assert_eq!(plain("0o17"), Scalar::Int(15));
        assert_eq!(plain("0O17"), Scalar::Int(15));
        assert_eq!(plain("0x1F"), Scalar::Int(31));
        assert_eq!(plain("-0x1F"), Scalar::Int(-31));
        assert_eq!(plain("0b101"), Scalar::Int(5));
        assert_eq!(plain("0b-101"), Scalar::Int(-5));
        assert_eq!(plain("+12"), Scalar::Int(12));
        assert_eq!(plain("1_000"), Scalar::Int(1000));
        assert_eq!(plain("0x_1F"), Scalar::Int(31));
        assert_eq!(plain("0x"), Scalar::Str("0x".into()));
        assert_eq!(plain("_1"), Scalar::Str("_1".into()));
    }

    #[test]
    fn big_integers() {
        assert_eq!(plain("9223372036854775807"), Scalar::Int(i64::MAX));
        assert_eq!(plain("-9223372036854775808"), Scalar::Int(i64::MIN));
        assert_eq!(plain("9223372036854775808"), Scalar::Uint(1 << 63));
        assert_eq!(plain("0xFFFFFFFFFFFFFFFF"), Scalar::Uint(u64::MAX));
        assert_eq!(
            plain("-9223372036854775809"),
            Scalar::Float(-9_223_372_036_854_775_809.0)
        );
        assert_eq!(
            plain("18446744073709551616"),
            Scalar::Float(18_446_744_073_709_551_616.0)
        );
        assert_eq!(plain("0x1FFFFFFFFFFFFFFFF"), Scalar::Str("0x1FFFFFFFFFFFFFFFF".into()));
        assert_eq!(plain("1e400"), Scalar::Str("1e400".into()));
        assert_eq!(plain("1e-400"), Scalar::Float(0.0));
    }

    #[test]
    fn words_are_exact_spellings() {
        for word in ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"] {
            assert_eq!(plain(word), Scalar::Bool(true), "{word}");
        }
        for word in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(plain(word), Scalar::Bool(false), "{word}");
        }
        for word in ["yEs", "tRUE", "oN", "nULL", ".iNf", "inf", "nan", "Infinity"] {
            assert_eq!(plain(word), Scalar::Str(word.into()), "{word}");
        }
        for word in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(word), Scalar::Null, "{word:?}");
        }
        assert_eq!(resolve(None, "yes", false), Ok(Scalar::Str("yes".into())));
    }

    #[test]
    fn floats() {
        assert_eq!(plain(".5"), Scalar::Float(0.5));
        assert_eq!(plain("-.5"), Scalar::Float(-0.5));
        assert_eq!(plain("+.5"), Scalar::Float(0.5));
        assert_eq!(plain("1."), Scalar::Float(1.0));
        assert_eq!(plain("6.0e+2"), Scalar::Float(600.0));
        assert_eq!(plain("1_0.5"), Scalar::Float(10.5));
        assert_eq!(plain(".e1"), Scalar::Str(".e1".into()));
        assert_eq!(plain("._5"), Scalar::Str("._5".into()));
        assert_eq!(plain("1e"), Scalar::Str("1e".into()));
        assert_eq!(plain("0x1p-2"), Scalar::Str("0x1p-2".into()));
    }

    #[test]
    fn timestamps_stay_strings() {
        for text in [
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10",
            "2002-1-2",
        ] {
            assert!(is_timestamp(text), "{text}");
            assert_eq!(plain(text), Scalar::Str(text.into()));
        }
        for text in [
            "2001-12-14 21:59:43.10 -5",
            "2001-02-30",
            "20011-12-14",
            "2001-12-14T25:00:00Z",
        ] {
            assert!(!is_timestamp(text), "{text}");
        }
        let tagged = |text| resolve(Some("tag:yaml.org,2002:timestamp"), text, true);
        assert_eq!(tagged("2001-12-14"), Ok(Scalar::Str("2001-12-14".into())));
        assert!(tagged("14/12/2001").is_err());
    }

    #[test]
    fn tags() {
        let tagged = |tag: &str, text| resolve(Some(tag), text, false);
        assert_eq!(tagged("tag:yaml.org,2002:int", "0400"), Ok(Scalar::Int(256)));
        assert_eq!(tagged("tag:yaml.org,2002:str", "0400"), Ok(Scalar::Str("0400".into())));
        assert_eq!(tagged("tag:yaml.org,2002:float", "1"), Ok(Scalar::Float(1.0)));
        assert_eq!(tagged("tag:yaml.org,2002:bool", "yes"), Ok(Scalar::Bool(true)));
        assert_eq!(tagged("!foo", "12"), Ok(Scalar::Str("12".into())));
        assert_eq!(
            tagged("tag:yaml.org,2002:binary", "aGVsbG8="),
            Ok(Scalar::Str("hello".into()))
        );
        assert_eq!(
            tagged("tag:yaml.org,2002:binary", "/w=="),
            Ok(Scalar::Str("\u{FFFD}".into()))
        );
        assert_eq!(tagged("tag:yaml.org,2002:binary", "aGVsbG8"), Err(Problem::Base64));
        assert!(matches!(
            tagged("tag:yaml.org,2002:int", "1.5"),
            Err(Problem::TagMismatch { .. })
        ));
        assert!(tagged("tag:yaml.org,2002:float", "18446744073709551615").is_err());
        assert!(tagged("tag:yaml.org,2002:null", "foo").is_err());
    }

    #[test]
    fn json_numbers_follow_the_round_trip() {
        let json = |scalar| to_json(scalar, "x").expect("finite");
        assert_eq!(json(Scalar::Float(1.0)), Value::from(1));
        assert_eq!(json(Scalar::Float(-0.0)), Value::from(0));
        assert_eq!(json(Scalar::Float(1.5)), Value::from(1.5));
        assert_eq!(json(Scalar::Float(1e20)), Value::from(1e20));
        assert_eq!(
            json(Scalar::Float(1.234_567_890_123_456_7e18)),
            Value::from(1_234_567_890_123_456_800_i64)
        );
        assert_eq!(
            json(Scalar::Float(-9_223_372_036_854_775_808.0)),
            Value::from(-9_223_372_036_854_775_808.0)
        );
        assert_eq!(json(Scalar::Uint(u64::MAX)), Value::from(u64::MAX as f64));
        assert!(to_json(Scalar::Float(f64::NAN), ".nan").is_err());
    }

    #[test]
    fn float_keys_use_go_float32_g_format() {
        assert_eq!(float_key(1.0), "1");
        assert_eq!(float_key(1.5), "1.5");
        assert_eq!(float_key(0.1), "0.1");
        assert_eq!(float_key(1e7), "1e+07");
        assert_eq!(float_key(123_456_789.0), "1.2345679e+08");
        assert_eq!(float_key(100_000.0), "100000");
        assert_eq!(float_key(0.0001), "0.0001");
        assert_eq!(float_key(0.00001), "1e-05");
        assert_eq!(float_key(-0.0), "-0");
        assert_eq!(float_key(1e300), ".inf");
        assert_eq!(float_key(3.000_000_1), "3");
    }
}
